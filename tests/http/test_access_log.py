"""Which HTTP requests get an access-log line, and where (`[http] access_log`,
`access_log_file`): a real listener on loopback, real requests through treq, the gateway
log read from twisted.logger's global publisher."""
from __future__ import annotations

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.logger import formatEvent, globalLogPublisher
from twisted.web.resource import Resource

from gateway.http.access_log import AccessLog
from gateway.http.connection_guard import ConnectionLimits, GuardedSite


class _Status(Resource):
    """Answers /NNN with status NNN."""

    isLeaf = True

    def render(self, request):
        request.setResponseCode(int(request.path.strip(b"/")))
        request.setHeader(b"content-type", b"application/json")
        return b"{}"


class _Lines:
    """Access lines that reached the gateway log (Twisted writes them through it)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, event: dict) -> None:
        text = formatEvent(event)
        if "HTTP/1.1\"" in text:
            self.lines.append(text)


@pytest.fixture
def gateway_log():
    lines = _Lines()
    globalLogPublisher.addObserver(lines)
    yield lines
    globalLogPublisher.removeObserver(lines)


async def _serve(access_log: AccessLog):
    site = GuardedSite(_Status(), max_body=4096, limits=ConnectionLimits(),
                       access_log=access_log)
    port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(site)
    return port, f"http://127.0.0.1:{port.getHost().port}"


async def _get_each(base: str, *codes: int) -> None:
    for code in codes:
        response = await treq.get(f"{base}/{code}", persistent=False)
        assert response.code == code
        await response.content()


@pytest_twisted.ensureDeferred
async def test_by_default_only_answers_of_400_and_up_get_a_line(gateway_log):
    port, base = await _serve(AccessLog(mode="errors"))
    try:
        await _get_each(base, 202, 200, 401, 503)
    finally:
        await port.stopListening()
    assert [line.split('"')[3] for line in gateway_log.lines] == [
        "GET /401 HTTP/1.1", "GET /503 HTTP/1.1"]


@pytest_twisted.ensureDeferred
async def test_all_logs_every_request_and_off_none(gateway_log):
    port, base = await _serve(AccessLog(mode="all"))
    try:
        await _get_each(base, 202, 404)
    finally:
        await port.stopListening()
    assert len(gateway_log.lines) == 2
    port, base = await _serve(AccessLog(mode="off"))
    try:
        await _get_each(base, 202, 404, 500)
    finally:
        await port.stopListening()
    assert len(gateway_log.lines) == 2


@pytest_twisted.ensureDeferred
async def test_with_a_file_the_lines_go_there_in_the_combined_format(gateway_log, tmp_path):
    path = tmp_path / "access.log"
    port, base = await _serve(AccessLog(mode="all", path=str(path)))
    try:
        await _get_each(base, 202, 400)
    finally:
        await port.stopListening()
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and gateway_log.lines == []
    assert lines[0].startswith('"127.0.0.1" - - [')
    assert '"GET /202 HTTP/1.1" 202 2 "-"' in lines[0]
    assert '"GET /400 HTTP/1.1" 400 2 "-"' in lines[1]


def test_wants():
    assert AccessLog(mode="errors").wants(400) and not AccessLog(mode="errors").wants(399)
    assert AccessLog(mode="all").wants(200) and not AccessLog(mode="off").wants(500)
