"""S1: the TLS listener (TLS 1.2+), with a self-signed certificate made at test time."""
from __future__ import annotations

import socket
import ssl
import threading

import pytest
from gateway_harness import (
    ESME_ROK,
    Esme,
    P,
    RawClient,
    raw_receipt_fields,
    receipt_fields,
)

from gateway.smpp.codec import encode

pytestmark = pytest.mark.integration

GATEWAY_TLS = True


def client_context(gateway, *, minimum=None, maximum=None, check_hostname=True):
    cert, _ = gateway.tls
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = check_hostname
    if minimum is not None:
        context.minimum_version = minimum
    if maximum is not None:
        context.maximum_version = maximum
    return context


def test_bind_submit_and_receipt_over_tls_with_full_verification(gateway, new_account):
    system_id, password = new_account()
    context = client_context(gateway)
    with RawClient(gateway.host, gateway.tls_port, ssl_context=context,
                   server_hostname="localhost") as client:
        assert client.sock.version() in ("TLSv1.2", "TLSv1.3")
        resp = client.bind(system_id, password)
        assert resp.command_status == ESME_ROK and resp.tlvs.sc_interface_version == 0x34
        submitted = client.submit(body=b"over TLS")
        assert submitted.command_status == ESME_ROK
        deliver = client.expect(P.DeliverSm)
        client.send(P.DeliverSmResp(sequence_number=deliver.sequence_number))
        assert raw_receipt_fields(deliver)["id"] == submitted.message_id
        assert client.request(P.EnquireLink()).command_status == ESME_ROK


def test_smpplib_over_tls(gateway, new_account):
    system_id, password = new_account()
    # smpplib wraps its socket without a server_hostname: verify the chain, not the name
    context = client_context(gateway, check_hostname=False)
    with Esme(gateway, system_id, password, "transceiver", ssl_context=context,
              port=gateway.tls_port) as esme:
        assert esme.bind_resp.status == ESME_ROK
        message_id = esme.submit_ok("4917000400", b"smpplib over TLS")
        fields = receipt_fields(esme.wait_receipts([message_id])[message_id])
    assert fields["stat"] == "DELIVRD"


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_tls_1_2_and_1_3_are_accepted(gateway, version):
    tls_version = getattr(ssl.TLSVersion, version)
    context = client_context(gateway, minimum=tls_version, maximum=tls_version)
    with socket.create_connection((gateway.host, gateway.tls_port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        assert tls.version() == version.replace("_", ".")


def _local_tls_works(cert, key, version: ssl.TLSVersion) -> bool:
    """Can this machine's OpenSSL speak `version` at all? (Often disabled by policy.)"""
    try:
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(str(cert), str(key))
        client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client_ctx.check_hostname = False
        client_ctx.verify_mode = ssl.CERT_NONE
        for ctx in (server_ctx, client_ctx):
            ctx.set_ciphers("ALL:@SECLEVEL=0")
            ctx.minimum_version = ctx.maximum_version = version
    except (ssl.SSLError, ValueError):
        return False
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)
    result: list[bool] = []

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True):
                pass
        except (OSError, ssl.SSLError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with socket.create_connection(listener.getsockname(), timeout=5) as raw, \
                client_ctx.wrap_socket(raw) as tls:
            result.append(tls.version() == _NAMES[version])
    except (OSError, ssl.SSLError):
        result.append(False)
    finally:
        thread.join(5)
        listener.close()
    return result[0]


_NAMES = {ssl.TLSVersion.TLSv1: "TLSv1", ssl.TLSVersion.TLSv1_1: "TLSv1.1"}


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1.* is deprecated:DeprecationWarning")
@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_tls_below_1_2_is_refused(gateway, version):
    tls_version = getattr(ssl.TLSVersion, version)
    cert, key = gateway.tls
    # the control: this client really can complete a TLS 1.0/1.1 handshake (with a local
    # server that allows it), so a failure against the gateway is the gateway's refusal
    if not _local_tls_works(cert, key, tls_version):
        pytest.skip(f"the local OpenSSL cannot speak {version}, so it cannot be offered")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("ALL:@SECLEVEL=0")
    context.minimum_version = context.maximum_version = tls_version
    with socket.create_connection((gateway.host, gateway.tls_port), timeout=5) as raw:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            with context.wrap_socket(raw) as tls:
                tls.sendall(b"x")
                tls.recv(1)


def test_plain_smpp_on_the_tls_port_gets_no_smpp_answer(gateway, new_account):
    system_id, password = new_account()
    with socket.create_connection((gateway.host, gateway.tls_port), timeout=5) as raw:
        raw.sendall(encode(P.BindTransceiver(system_id=system_id, password=password,
                                             sequence_number=1)))
        try:
            data = raw.recv(4096)
        except ConnectionError:
            data = b""
        # a TLS alert or nothing, never a bind response
        assert not data.startswith(b"\x00\x00\x00"), data


def test_plain_listener_still_works_with_tls_enabled(gateway, new_account):
    system_id, password = new_account()
    with Esme(gateway, system_id, password, "transmitter") as esme:
        assert esme.submit_ok("4917000401", b"plain") != ""
