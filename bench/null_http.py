"""A null HTTP API hosted by Twisted: the floor the gateway's HTTP sends are measured against.

    python bench/null_http.py [--port 0] [--host 127.0.0.1] [--stack klein|web]

It answers every POST /api/v1/messages with 202 and a JSON body shaped like the
gateway's (one message id per recipient of the request's `to`) and nothing else: no
store, no validation, no authentication, no connector, no access log. `--stack klein`
(the default) routes through a Klein app on twisted.web, as the gateway does; `--stack
web` answers from a bare twisted.web Resource, so the two show what Klein itself costs.
It prints `listening on PORT` once the port is open, so bench/http_api.py can start it on
port 0 and read the port.

What it costs per request is what twisted.web (and Klein), the reactor and the kernel
cost: the gateway's rate divided by this one's (same run, same load generator) says how
much of the gateway's cost per request is its own. Not a test and not an API to use.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys

from klein import Klein
from twisted.internet import reactor
from twisted.web import resource, server

STACKS = ("klein", "web")


def answer(request: server.Request, ids: itertools.count) -> bytes:
    """The 202 and its JSON body for one send request."""
    body = json.loads(request.content.read())
    recipients = body["to"] if isinstance(body["to"], list) else [body["to"]]
    payload = json.dumps({"messages": [{"id": str(next(ids)), "to": to}
                                       for to in recipients]}).encode()
    request.setResponseCode(202)
    request.setHeader(b"content-type", b"application/json")
    request.setHeader(b"content-length", b"%d" % len(payload))  # as the gateway: no chunks
    return payload


def klein_resource(ids: itertools.count) -> resource.Resource:
    app = Klein()

    @app.route("/api/v1/messages", methods=["POST"])
    def send(request: server.Request) -> bytes:
        return answer(request, ids)

    return app.resource()


class MessagesResource(resource.Resource):
    """POST /api/v1/messages from a bare twisted.web Resource tree's leaf."""

    isLeaf = True

    def __init__(self, ids: itertools.count) -> None:
        super().__init__()
        self._ids = ids

    def render_POST(self, request: server.Request) -> bytes:
        return answer(request, self._ids)


def web_resource(ids: itertools.count) -> resource.Resource:
    root, api, v1 = resource.Resource(), resource.Resource(), resource.Resource()
    root.putChild(b"api", api)
    api.putChild(b"v1", v1)
    v1.putChild(b"messages", MessagesResource(ids))
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--stack", choices=STACKS, default="klein")
    args = parser.parse_args(argv)
    ids = itertools.count(1)
    root = klein_resource(ids) if args.stack == "klein" else web_resource(ids)
    site = server.Site(root)
    site.log = lambda request: None  # no access log line: the gateway logs errors only
    port = reactor.listenTCP(args.port, site, interface=args.host)
    print(f"listening on {port.getHost().port}", flush=True)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
