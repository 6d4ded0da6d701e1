"""The admin REST sections `connectors` and `routes`, through treq's StubTreq over the
Klein resources, on the memory store (it answers at once)."""
from __future__ import annotations

import json

import pytest
from treq.testing import StubTreq

from gateway.http.admin_upstream import UpstreamAdmin
from gateway.storage.memory import MemoryStore


class Now:
    """The memory store with its answers read at once (its Deferreds have fired)."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def __getattr__(self, name: str):
        method = getattr(self._store, name)
        return lambda *args: method(*args).result


@pytest.fixture
def rig():
    store = MemoryStore()
    applied = []
    admin = UpstreamAdmin(store, health=lambda: {"op1": {"up": True, "queued": 3}},
                          apply=lambda: applied.append(1))
    sections = admin.sections()
    yield (StubTreq(sections["connectors"].resource()),
           StubTreq(sections["routes"].resource()), Now(store), applied)
    store.close()


def call(stub: StubTreq, method: str, path: str, body=None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    d = stub.request(method, f"http://admin{path}", data=data,
                     headers={"content-type": "application/json"})
    response = []
    d.addCallback(lambda r: stub.json_content(r).addCallback(
        lambda j: response.append((r.code, j))))
    stub.flush()
    assert response, "no response"
    return response[0]


OP1 = {"name": "op1", "host": "smsc.example", "port": 2776, "system_id": "me",
       "password": "pw", "tls": True, "ca_file": "/etc/ca.pem", "window": 20}


def test_connector_lifecycle(rig):
    connectors, _, db, applied = rig
    assert call(connectors, "GET", "/") == (200, [])
    code, made = call(connectors, "POST", "/", OP1)
    assert code == 201 and made["password"] == "***" and made["window"] == 20
    assert db.get_connector("op1").password == "pw" and applied == [1]
    code, shown = call(connectors, "GET", "/op1")
    assert code == 200 and shown["health"] == {"up": True, "queued": 3}
    code, changed = call(connectors, "PATCH", "/op1", {"window": 5, "tls_verify": False})
    assert code == 200 and changed["window"] == 5 and db.get_connector("op1").tls_verify is False
    code, listed = call(connectors, "GET", "/")
    assert [c["name"] for c in listed] == ["op1"]
    assert call(connectors, "DELETE", "/op1") == (200, {"removed": "op1"})
    assert call(connectors, "GET", "/op1")[0] == 404


def test_connector_errors_are_4xx_with_a_message(rig):
    connectors, _, _, _ = rig
    assert call(connectors, "POST", "/", {"name": "x"})[0] == 400  # host missing
    code, answer = call(connectors, "POST", "/", {**OP1, "window": "many"})
    assert code == 400 and answer["error"]["field"] == "window"
    assert answer["error"]["code"] == "invalid_field" and answer["error"]["message"]
    assert call(connectors, "POST", "/", {**OP1, "colour": "red"})[0] == 400
    call(connectors, "POST", "/", OP1)
    assert call(connectors, "POST", "/", OP1) == (409, {"error": {
        "code": "exists", "message": "connector op1 already exists", "field": "name"}})
    assert call(connectors, "PATCH", "/nope", {"window": 1})[0] == 404
    assert call(connectors, "DELETE", "/nope")[0] == 404


def test_routes_lifecycle_and_a_used_connector_cannot_be_removed(rig):
    connectors, routes, db, _ = rig
    call(connectors, "POST", "/", OP1)
    code, made = call(routes, "POST", "/", {"prefix": "49", "account": "acme",
                                            "connectors": [{"name": "op1", "weight": 2},
                                                           {"name": "simulator"}]})
    assert code == 201
    code, listed = call(routes, "GET", "/")
    assert listed == [{"id": made["id"], "prefix": "49", "account": "acme",
                       "source_prefix": "",
                       "connectors": [{"name": "op1", "weight": 2},
                                      {"name": "simulator", "weight": 1}]}]
    assert call(connectors, "DELETE", "/op1")[0] == 409
    assert call(routes, "POST", "/", {"prefix": "49", "connectors": [{"name": "zz"}]})[0] == 400
    assert call(routes, "POST", "/", {"prefix": "4x", "connectors": [{"name": "op1"}]})[0] == 400
    assert call(routes, "DELETE", f"/{made['id']}")[0] == 200
    assert call(routes, "DELETE", f"/{made['id']}")[0] == 404
    assert db.list_routes() == []
