"""The first start's banner says where the gateway listens, who reaches administration, and
the one option that opens it to other machines."""
from __future__ import annotations

from gateway.banner import DemoStart, demo_banner
from gateway.config import load_config
from gateway.tap import Options

START = DemoStart(system_id="demo", password="pw123456", admin_token="t" * 32,
                  token_note="kept in smsgw-data/admin-token", smpp_port=2775, http_port=8080)


def test_the_default_banner_says_this_machine_only_and_how_to_open_it():
    text = demo_banner(load_config(), START)
    assert "   password:  pw123456" in text.splitlines()  # the line the harness reads
    assert "SMPP:      127.0.0.1:2775" in text
    assert "http://127.0.0.1:8080/admin/v1  (answers this machine only: [admin] allow)" in text
    assert "listening on this machine only (127.0.0.1)" in text
    assert 'twistd -n smsgw --listen 0.0.0.0   (file: host = "0.0.0.0" in [smpp] and [http])' \
        in text


def test_an_opened_gateway_says_so_and_administration_stays_on_loopback(tmp_path):
    options = Options()
    options.parseOptions(["--listen", "0.0.0.0", "--data-dir", str(tmp_path)])
    text = demo_banner(options.gateway_config, START)
    assert "SMPP:      0.0.0.0:2775" in text
    assert "listening for other machines too (SMPP 0.0.0.0, HTTP 0.0.0.0)" in text
    assert "--listen" not in text
    assert "(answers this machine only: [admin] allow)" in text


def test_admin_networks_beyond_loopback_are_named(tmp_path):
    path = tmp_path / "smsgw.toml"
    path.write_text("[admin]\nallow = ['127.0.0.1', '10.0.0.0/8']\n")
    text = demo_banner(load_config(str(path)), START)
    assert "(answers 127.0.0.1/32, 10.0.0.0/8)" in text
