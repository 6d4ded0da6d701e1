"""The overview's numbers, read from the live gateway (metrics, rate history, queue depths,
binds, connectors): rendered into the page and served as JSON to keep it live."""
from __future__ import annotations

from typing import Any

from gateway.model import BindKind, MessageState

__all__ = ["overview_data"]

_MODE = {BindKind.TRANSMITTER: "tx", BindKind.RECEIVER: "rx", BindKind.TRANSCEIVER: "trx"}


def overview_data(*, ops: Any, binds: Any, registry: Any, simulator: Any,
                  smpp_port: int) -> dict[str, Any]:
    points = ops.history.points() if ops.history is not None else []
    last = points[-1] if points else (0.0, 0.0, 0.0)
    return {
        "rate": {"submits": last[1], "receipts": last[2]},
        "series": [[p[0] for p in points], [round(p[1], 2) for p in points],
                   [round(p[2], 2) for p in points]],
        "depths": ops.depths.latest(),
        "depths_read_at": ops.depths.read_at,
        "binds": [[c.account, _MODE[c.kind], c.load(), _peer(c)] for c in binds],
        "connectors": _connectors(registry, simulator),
        "totals": _totals(ops.metrics),
        "smpp_port": smpp_port,
    }


def _peer(channel: Any) -> str:
    transport = getattr(channel, "transport", None)
    if transport is None:
        return ""
    peer = transport.getPeer()
    return f"{peer.host}:{peer.port}"


def _connectors(registry: Any, simulator: Any) -> list[list[Any]]:
    rows: list[list[Any]] = [[simulator.name, "up", simulator.pending(), 0, "built in"]]
    for name, h in sorted(registry.health().items()):
        bound = sum(1 for b in h["binds"] if b["state"] == "bound")
        rows.append([name, "up" if h["up"] else "down", h["window_used"], h["queued"],
                     f"{bound}/{len(h['binds'])} binds, {h['submits_per_second']}/s"])
    return rows


def _totals(metrics: Any) -> list[list[Any]]:
    if metrics is None:
        return []
    rows: list[list[Any]] = [["Accepted over SMPP", metrics.smpp_ok],
                             ["Accepted over HTTP", metrics.http_ok]]
    rows += [[f"Refused ({transport}): {status}", n]
             for (transport, status), n in sorted(metrics.refused.items())]
    rows += [[f"Final: {state.receipt_stat}", metrics.finals[state]]
             for state in MessageState if state.is_final and metrics.finals[state]]
    rows += [["Receipts sent over SMPP", metrics.receipts_smpp],
             ["Receipts sent as webhooks", metrics.receipts_webhook]]
    rows += [[f"Bind refused: {status}", n] for status, n in
             sorted(metrics.bind_failures.items())]
    return [[name, f"{n:,}"] for name, n in rows]
