"""Where a new user's gateway listens: with no configuration file, on 127.0.0.1 only (the
banner says so, with the option that opens it); `--listen 0.0.0.0` opens SMPP and HTTP to
other machines while the admin API still answers this machine only."""
from __future__ import annotations

import ipaddress
import re

import psutil
import pytest
from gateway_harness import Esme, Gateway, HttpClient

pytestmark = pytest.mark.integration


def listening_addresses(gw: Gateway) -> set[str]:
    return {c.laddr.ip for c in psutil.Process(gw.proc.pid).net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN}


def an_address_of_another_interface() -> str:
    """One of this machine's IPv4 addresses that is not loopback: connecting to it, the
    gateway sees a peer from outside loopback."""
    for addresses in psutil.net_if_addrs().values():
        for a in addresses:
            if a.family.name == "AF_INET" and not ipaddress.ip_address(a.address).is_loopback:
                return a.address
    pytest.fail("this machine has no non-loopback IPv4 address to test from")


def test_with_no_configuration_file_it_listens_on_this_machine_only(tmp_path):
    gw = Gateway(tmp_path, config_file=False)
    try:
        gw.start()
        assert listening_addresses(gw) == {"127.0.0.1"}
        gw.wait_log(re.escape("listening on this machine only (127.0.0.1)"))  # the banner
        log = gw.log()
        assert "SMPP listening on 127.0.0.1:" in log and "HTTP listening on 127.0.0.1:" in log
        gw.wait_log(re.escape("twistd -n smsgw --listen 0.0.0.0"))
        with Esme(gw, "demo", gw.password, "transceiver") as esme:
            assert esme.bind_resp.status == 0
        assert gw.admin("GET", "/admin/v1/accounts")[0] == 200
    finally:
        gw.close()


def test_listen_opens_smpp_and_http_but_the_admin_api_stays_on_this_machine(tmp_path):
    outside = an_address_of_another_interface()
    gw = Gateway(tmp_path, config_file=False, options=("--listen", "0.0.0.0"))
    try:
        gw.start()
        assert listening_addresses(gw) == {"0.0.0.0"}
        # the banner follows the listeners' lines that start() waits for
        gw.wait_log(re.escape("listening for other machines too (SMPP 0.0.0.0, HTTP 0.0.0.0)"))
        assert gw.admin("GET", "/admin/v1/accounts")[0] == 200  # from 127.0.0.1
        gw.host = outside  # from here on, clients come from another interface
        with Esme(gw, "demo", gw.password, "transceiver") as esme:
            assert esme.bind_resp.status == 0
        public = HttpClient(gw, basic=("demo", gw.password))
        admin = HttpClient(gw, bearer=gw.admin_token)
        try:
            assert public.call("GET", "/api/v1/balance")[0] == 200
            status, body, _ = admin.call("GET", "/admin/v1/accounts")
            assert status == 403 and body["error"]["code"] == "forbidden"
        finally:
            public.close()
            admin.close()
    finally:
        gw.close()
