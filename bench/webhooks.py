"""Webhook benchmark: delivery receipts POSTed to a receiver, from the gateway's persistent
webhook outbox, signed, against the real gateway as a subprocess.

    python bench/webhooks.py [--messages 10000] [--batch-size 100] [--keep]

It starts the gateway from this checkout (bench/http_api.py's Gateway: free ports, fresh
temporary data directory), gives the `bench` account a webhook URL on a receiver that
runs in this process (asyncio, HTTP/1.1 keep-alive, answers 200 and checks every
signature), sends the messages with `dlr` through the HTTP API in batches, and waits
until a receipt for each has arrived. Reported: webhooks per second (first accept to last
receipt received), and the latency from a batch's 202 to each of its receipts (p50/p99;
it includes the simulator's 50 ms delivery delay), bad signatures and duplicates, and the
gateway's CPU per webhook: psutil user + system time from the first send to the last
receipt received, over the messages (so the HTTP accept, the simulator's receipt and the
webhook together).

Not a test: numbers depend on the machine; on a shared machine they vary from run to run.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import http.client
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import http_api  # noqa: E402

SECRET = "bench-webhook-secret-0123456789"


class Receiver:
    """A lean HTTP/1.1 server: reads each request, answers 200, records the receipt."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}  # message id -> arrival time
        self.duplicates = 0
        self.bad_signatures = 0
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()
        self._ready.wait(10)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = dict(
                    line.split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:]
                    if ": " in line)
                headers = {k.lower(): v for k, v in headers.items()}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self._record(headers, body)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def _record(self, headers: dict[str, str], body: bytes) -> None:
        now = time.monotonic()
        timestamp = headers.get("x-smsgw-timestamp", "")
        expected = "v1=" + hmac.new(SECRET.encode(), timestamp.encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, headers.get("x-smsgw-signature", "")):
            self.bad_signatures += 1
        message_id = json.loads(body)["data"]["message_id"]
        if message_id in self.arrived:
            self.duplicates += 1
        else:
            self.arrived[message_id] = now


def send(port: int, messages: int, batch_size: int) -> dict[str, float]:
    """POST the messages in batches; message id -> when its batch was answered."""
    credentials = base64.b64encode(
        f"{http_api.SYSTEM_ID}:{http_api.PASSWORD}".encode()).decode()
    headers = {"content-type": "application/json", "authorization": f"Basic {credentials}"}
    accepted: dict[str, float] = {}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for start in range(0, messages, batch_size):
            count = min(batch_size, messages - start)
            body = json.dumps({"to": [f"4917{n:08d}" for n in range(start, start + count)],
                               "text": "webhook bench", "dlr": True})
            connection.request("POST", "/api/v1/messages", body=body, headers=headers)
            response = connection.getresponse()
            answer = json.loads(response.read())
            if response.status != 202:
                raise http_api.BenchError(f"POST answered {response.status}: {answer}")
            now = time.monotonic()
            for message in answer["messages"]:
                accepted[message["id"]] = now
    finally:
        connection.close()
    return accepted


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(fraction * len(values)))] if values else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    receiver = Receiver()
    receiver.start()
    workdir = Path(tempfile.mkdtemp(prefix="webhooks-bench-"))
    gateway = http_api.Gateway(workdir)
    try:
        gateway.cli("account", "add", http_api.SYSTEM_ID, "--password", http_api.PASSWORD,
                    "--balance", "1000000", "--throughput", "0",
                    "--webhook-url", f"http://127.0.0.1:{receiver.port}/hook",
                    "--webhook-secret", SECRET)
        gateway.start()
        cpu = gateway.cpu_seconds()
        started = time.monotonic()
        accepted = send(gateway.http_port, args.messages, args.batch_size)
        deadline = started + args.timeout
        while len(receiver.arrived) < len(accepted) and time.monotonic() < deadline:
            time.sleep(0.01)
        elapsed = max(receiver.arrived.values(), default=started) - started
        cpu = gateway.cpu_seconds() - cpu
    finally:
        gateway.stop()
        if args.keep:
            print(f"data and log kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    latencies = sorted((receiver.arrived[i] - t) * 1000 for i, t in accepted.items()
                       if i in receiver.arrived)
    summary = {
        "bench": "webhooks", "messages": args.messages, "batch_size": args.batch_size,
        "accepted": len(accepted), "receipts_received": len(receiver.arrived),
        "duplicates": receiver.duplicates, "bad_signatures": receiver.bad_signatures,
        "elapsed_s": round(elapsed, 3),
        "webhooks_per_s": round(len(receiver.arrived) / elapsed, 1) if elapsed else 0.0,
        "latency_p50_ms": round(percentile(latencies, 0.50), 1),
        "latency_p99_ms": round(percentile(latencies, 0.99), 1),
        "gateway_cpu_us_per_webhook": round(cpu / max(1, len(receiver.arrived)) * 1e6),
    }
    for key, value in summary.items():
        print(f"{key:<20} {value}")
    print(json.dumps(summary))
    ok = len(receiver.arrived) == len(accepted) == args.messages and not receiver.bad_signatures
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
