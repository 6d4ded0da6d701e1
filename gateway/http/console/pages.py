"""The console's pages as HTML bodies, from data the app has read: pure functions, so each
page is rendered the same way whether the gateway is busy or idle, and empty lists say so."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.core.apikeys import ApiKey
from gateway.core.connector_settings import ConnectorSettings
from gateway.core.events import encoding_name
from gateway.core.routing import Route
from gateway.http.console.html import (
    Html,
    badge,
    card,
    esc,
    field,
    form,
    hidden,
    join,
    link,
    table,
    when,
)
from gateway.http.translate import status_json
from gateway.model import Account, Message, MessageState, OutboxItem

__all__ = ["PERIODS", "account_page", "accounts_page", "login_page", "message_page",
           "messages_page", "overview_page", "routes_page", "webhooks_page"]

PERIODS = (("1h", "last hour", 3600), ("24h", "last 24 hours", 86400),
           ("7d", "last 7 days", 7 * 86400), ("30d", "last 30 days", 30 * 86400))

_STATE_KIND = {MessageState.DELIVERED: "ok", MessageState.ENROUTE: "info",
               MessageState.SCHEDULED: "info", MessageState.ACCEPTED: "info"}


def state_badge(state: MessageState) -> Html:
    return badge(state.receipt_stat, _STATE_KIND.get(state, "bad"))


def login_page(error: bool) -> Html:
    problem = ('<p class="notice notice-error" role="alert">That is not the admin token.</p>'
               if error else "")
    return Html(
        f'<div class="login"><h2>Sign in</h2>{problem}'
        '<p>Sign in with the gateway\'s admin token: <code>[admin] token</code> in the '
        'configuration, or the file <code>admin-token</code> in the data directory.</p>'
        '<form method="post" action="/console/login" class="stacked">'
        '<label class="field"><span>Admin token</span>'
        '<input type="password" name="token" autocomplete="current-password" required '
        'autofocus></label><button type="submit" class="button primary">Sign in</button>'
        '</form></div>')


# --- overview -----------------------------------------------------------------------------

def overview_page(data: dict[str, Any], metrics_on: bool) -> Html:
    """`data`: what /console/data/overview answers (the page's script keeps it live)."""
    d = data["depths"]
    rate = data["rate"]
    cards = join([
        card("Submits / s", f"{rate['submits']:,.1f}", "accepted, last sample", "rate-submits"),
        card("Receipts / s", f"{rate['receipts']:,.1f}", "acknowledged by clients",
             "rate-receipts"),
        card("Live binds", len(data["binds"]), "SMPP sessions", "binds-count"),
        card("In flight", f"{d.get('unfinished', 0):,}", "accepted, not final yet",
             "depth-unfinished"),
        card("Receipts queued", f"{d.get('receipts_pending', 0):,}",
             "for SMPP binds, not yet acknowledged", "depth-receipts"),
        card("Webhooks pending", f"{d.get('webhooks_pending', 0):,}",
             f"{d.get('webhooks_dead', 0):,} dead letters", "depth-webhooks"),
    ])
    chart = ('<div id="chart" class="chart" aria-label="submits and receipts per second">'
             '</div><p class="hint" id="chart-note">Submits and receipts per second over '
             'the last 10 minutes (UTC), sampled every 2 s; queue depths are read from the '
             'store every 10 s.</p>' if metrics_on else
             '<p class="empty">The throughput chart needs the metrics: they are off '
             '(<code>[metrics] enabled = false</code>).</p>')
    binds = table(["Account", "Mode", "Unanswered", "Peer"], data["binds"],
                  f"No live binds. SMPP clients that bind to port {data['smpp_port']} "
                  "appear here.", ident="binds")
    connectors = table(["Connector", "State", "In flight", "Queued", "Detail"],
                       data["connectors"], "No connectors.", ident="connectors")
    totals = table(["Counter", "Since start"], data["totals"],
                   "Nothing counted yet (metrics off, or no traffic since the start).",
                   ident="totals")
    return Html(
        f'<p id="live-error" class="notice notice-error" role="alert" hidden></p>'
        f'<section class="cards">{cards}</section>'
        f'<section class="panel"><h2>Throughput</h2>{chart}</section>'
        f'<div class="columns"><section class="panel"><h2>Binds</h2>{binds}</section>'
        f'<section class="panel"><h2>Connector health</h2>{connectors}</section></div>'
        f'<section class="panel"><h2>Totals</h2>{totals}</section>')


# --- accounts -----------------------------------------------------------------------------

def accounts_page(accounts: Sequence[Account], binds: dict[str, int], csrf: str) -> Html:
    rows = [[link(f"/console/accounts/{a.system_id}", a.system_id),
             Html(f'<span class="num">{esc(a.balance)}</span>'),
             badge("enabled", "ok") if a.enabled else badge("disabled", "bad"),
             binds.get(a.system_id, 0), a.max_binds, _throughput(a), a.window,
             a.webhook_url or Html('<span class="muted">—</span>')] for a in accounts]
    listing = table(["Account", "Balance", "State", "Live binds", "Max binds", "Throughput",
                     "Window", "Webhook"], rows,
                    "No accounts yet. Create the first one below.")
    create = form("/console/accounts", csrf, join([
        field("System id", "system_id", required=True, extra='maxlength="15"'),
        field("Password", "password", kind="password", required=True,
              extra='maxlength="8"', hint="1-8 characters (an SMPP limit)"),
        field("Balance", "balance", "0", extra='inputmode="decimal"'),
    ]), "Create account", cls="stacked")
    return Html(f'<section class="panel">{listing}</section>'
                f'<section class="panel"><h2>New account</h2>{create}</section>')


def account_page(account: Account, keys: Sequence[ApiKey], live_binds: int,
                 csrf: str) -> Html:
    base = f"/console/accounts/{account.system_id}"
    cards = join([card("Balance", account.balance, "", "balance"),
                  card("Live binds", live_binds, f"of {account.max_binds} allowed"),
                  card("State", "enabled" if account.enabled else "disabled",
                       ", ".join(account.allow_ips) or "any IP may bind")])
    topup = form(f"{base}/topup", csrf, field(
        "Amount", "amount", kind="text", required=True, extra='inputmode="decimal"',
        hint="negative corrects"), "Top up")
    checked = " checked" if account.enabled else ""
    limits = form(f"{base}/limits", csrf, join([
        field("Max binds", "max_binds", account.max_binds, kind="number", extra='min="1"'),
        field("Throughput", "throughput", _number(account.throughput), kind="text",
              hint="submits/s per session, 0 = unlimited"),
        field("Window", "window", account.window, kind="number", extra='min="1"'),
        Html(f'<label class="check"><input type="checkbox" name="enabled" value="1"'
             f'{checked}> Enabled</label>'),
    ]), "Save limits", cls="stacked")
    rows = [[k.id, Html(f"<code>{esc(k.prefix)}…</code>"), k.label, when(k.created_at),
             badge("active", "ok") if k.active else badge("revoked", "bad"),
             form(f"{base}/keys/{k.id}/revoke", csrf, "", "Revoke", button="danger")
             if k.active else ""] for k in keys]
    key_table = table(["Id", "Key", "Label", "Issued", "State", ""], rows,
                      "No API keys. Issue one for the HTTP API below.")
    issue = form(f"{base}/keys", csrf, field("Label", "label", extra='maxlength="100"'),
                 "Issue API key")
    return Html(
        f'<p>{link("/console/accounts", "← all accounts")}</p>'
        f'<section class="cards">{cards}</section>'
        f'<div class="columns"><section class="panel"><h2>Top up</h2>{topup}</section>'
        f'<section class="panel"><h2>Limits</h2>{limits}</section></div>'
        f'<section class="panel"><h2>API keys</h2>{key_table}{issue}</section>')


def _throughput(account: Account) -> str:
    return "unlimited" if account.throughput == 0 else f"{_number(account.throughput)}/s"


def _number(value: float) -> str:
    return f"{value:g}"


# --- messages -----------------------------------------------------------------------------

def search_form(query: str, period: str) -> Html:
    options = "".join(f'<option value="{key}"{" selected" if key == period else ""}>'
                      f"{esc(text)}</option>" for key, text, _ in PERIODS)
    return Html('<form method="get" action="/console/messages" class="inline search">'
                f'<label class="field grow"><span>Message id or number</span>'
                f'<input type="search" name="q" value="{esc(query)}" '
                'placeholder="e.g. 3828306… or +4917612345678" required></label>'
                f'<label class="field"><span>Submitted</span><select name="period">'
                f'{options}</select></label>'
                '<button type="submit" class="button primary">Search</button></form>')


def messages_page(query: str, period: str, found: Sequence[Message] | None) -> Html:
    body = search_form(query, period)
    if found is None:
        return Html(body + '<p class="empty">Search by a message id to see its timeline, '
                           'or by a phone number (sender or recipient) to list its messages.'
                           '</p>')
    rows = [[link(f"/console/messages/{m.id}", m.id), when(m.submitted_at), m.account,
             m.source.addr, m.destination.addr, state_badge(m.state), m.parts, m.price]
            for m in found]
    listing = table(["Id", "Submitted (UTC)", "Account", "From", "To", "State", "Parts",
                     "Price"], rows, f"No message matches {query!r} in this period.")
    more = (f'<p class="hint">The newest {len(found)} shown: narrow the period to see older '
            'ones.</p>' if len(found) >= 100 else "")
    return Html(f'{body}<section class="panel">{listing}{more}</section>')


def message_page(message: Message, upstream: Any) -> Html:
    status = status_json(message)
    final = (f"{message.state.name.lower()} ({message.state.receipt_stat})"
             if message.state.is_final else "not yet: the receipt is awaited")
    steps = [("Accepted", "stored and charged", message.submitted_at),
             ("Scheduled", "waits for its time", message.scheduled_at),
             ("Sent", "handed to its connector", _sent_at(status)),
             ("Final", final, message.done_at)]
    timeline = "".join(
        f'<li class="{"done" if at else "pending"}"><span class="step">{esc(name)}</span>'
        f'<span class="muted">{esc(what)}</span>'
        f'<span class="at">{_moment(at, message.submitted_at)}</span></li>'
        for name, what, at in steps if name != "Scheduled" or at)
    facts = [("State", state_badge(message.state)), ("Error code", message.error_code),
             ("Account", link(f"/console/accounts/{message.account}", message.account)),
             ("Front-end", message.transport or "—"), ("From", message.source.addr),
             ("To", message.destination.addr), ("Parts", message.parts),
             ("Encoding", encoding_name(message.data_coding)), ("Price", message.price),
             ("Connector", upstream.connector if upstream else message.connector),
             ("Upstream id", upstream.upstream_id if upstream and upstream.upstream_id
              else "—"),
             ("Client reference", message.client_ref or "—"),
             ("Expires", status["timeline"]["expires"] or "—")]
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts)
    return Html(
        f'<p>{link("/console/messages", "← search")}</p>'
        f'<div class="columns"><section class="panel"><h2>Details</h2>'
        f'<table class="facts">{rows}</table></section>'
        f'<section class="panel"><h2>Timeline</h2><ol class="timeline">{timeline}</ol>'
        f'</section></div>')


def _sent_at(status: dict[str, Any]) -> float | None:
    sent = status["timeline"]["sent"]
    return None if sent is None else datetime.fromisoformat(
        sent.replace("Z", "+00:00")).timestamp()


def _moment(at: float | None, start: float) -> Html:
    """'2026-12-03 12:28:20.526 UTC (+55 ms)': when, and how long after the accept."""
    if at is None:
        return Html('<span class="muted">—</span>')
    text = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
    after = at - start
    if after > 0.0005:
        text += f" (+{after * 1000:,.0f} ms)" if after < 10 else f" (+{after:,.1f} s)"
    return esc(text)


# --- webhooks -----------------------------------------------------------------------------

def webhooks_page(items: Sequence[OutboxItem], state: str, counts: dict[str, int],
                  sender: dict[str, int] | None, csrf: str) -> Html:
    tabs = "".join(
        f'<a href="/console/webhooks?state={key}" class="tab{" active" if key == state else ""}"'
        f'>{esc(text)} ({counts.get(key, 0):,})</a>'
        for key, text in (("dead", "Dead letters"), ("pending", "Pending")))
    stats = ("" if sender is None else
             f'<p class="hint">Since the start: {sender["delivered"]:,} delivered, '
             f'{sender["failed"]:,} failed attempts, {sender["dead"]:,} given up; '
             f'{sender["in_flight"]:,} in flight.</p>')
    dead = state == "dead"
    rows = [[Html(f'<input type="checkbox" name="id" value="{i.id}" '
                  f'aria-label="replay {i.id}">') if dead else "",
             i.id, link(f"/console/accounts/{i.account}", i.account), i.kind.value,
             link(f"/console/messages/{i.message_id}", i.message_id) if i.message_id.isdigit()
             else i.message_id, Html(f'<span class="url">{esc(i.url)}</span>'), i.attempts,
             i.last_error or "—", when(i.dead_at if dead else i.next_attempt_at)]
            for i in items]
    empty = ("No dead letters: every webhook was delivered or is still being retried."
             if dead else "Nothing pending: every webhook was delivered.")
    listing = table(["", "Item", "Account", "Kind", "Message", "URL", "Attempts",
                     "Last error", "Given up (UTC)" if dead else "Next attempt (UTC)"], rows,
                    empty)
    if dead and items:
        every = counts.get("dead", 0)
        listing = Html(
            f'<form method="post" action="/console/webhooks/replay">'
            f'{hidden("csrf", csrf)}{listing}<div class="actions">'
            '<button type="submit" class="button primary">Replay selected</button>'
            f'<button type="submit" name="all" value="1" class="button secondary">'
            f'Replay every dead letter ({every:,})</button>'
            '<span class="hint">Replayed items are sent again at once; fix the receiver '
            'first.</span></div></form>')
    return Html(f'<nav class="tabs">{tabs}</nav>{stats}<section class="panel">{listing}'
                f'</section>')


# --- routes and connectors ----------------------------------------------------------------

def routes_page(connectors: Sequence[ConnectorSettings], health: dict[str, dict],
                routes: Sequence[Route], simulator_pending: int) -> Html:
    rows = [["simulator", "built in", badge("up", "ok"), "—",
             f"{simulator_pending} (no limit)", "—", "—"]]
    for c in connectors:
        h = health.get(c.name)
        if not c.enabled:
            state = badge("disabled", "neutral")
        elif h is None:
            state = badge("starting", "info")
        else:
            state = badge("up", "ok") if h["up"] else badge("down", "bad")
        binds = "—" if h is None else ", ".join(
            f"{b['kind']}: {b['state']}" for b in h["binds"])
        window = "—" if h is None else f"{h['window_used']} / {h['window_size']}"
        errors = "" if h is None else "; ".join(
            sorted({b["last_error"] for b in h["binds"] if b.get("last_error")}))
        rows.append([c.name, f"{c.host}:{c.port}{' (TLS)' if c.tls else ''}", state, binds,
                     window, "—" if h is None else h["queued"], errors or "—"])
    connector_table = table(["Connector", "Address", "State", "Binds", "In flight / window",
                             "Queued", "Last error"], rows, "")
    route_rows = [[r.id, r.prefix or "(any)", r.account or "(any)", r.source_prefix or "(any)",
                   join(badge(f"{t.connector} ×{t.weight}",
                              "ok" if t.connector == "simulator" or
                              (health.get(t.connector) or {}).get("up") else "bad")
                        for t in r.targets)] for r in routes]
    route_table = table(["Id", "Destination prefix", "Account", "Source prefix",
                         "Connectors (weight)"], route_rows,
                        "No routes: every message goes to the simulator. Add routes with "
                        "`smsgw route add` or the admin API.")
    return Html(f'<section class="panel"><h2>Connectors</h2>{connector_table}</section>'
                f'<section class="panel"><h2>Routes</h2>{route_table}'
                '<p class="hint">The most specific matching route wins; its connectors share '
                'traffic by weight among those up, else the next matching route is tried.'
                '</p></section>')
