from decimal import Decimal

import pytest

from gateway.config import ConfigError, load_config
from gateway.model import MessageState


def write(tmp_path, text):
    path = tmp_path / "smsgw.toml"
    path.write_text(text)
    return str(path)


def test_defaults_are_the_embedded_gateway():
    config = load_config()
    assert config.smpp.port == 2775 and config.smpp.tls_port == 2776
    assert not config.smpp.tls_enabled
    assert str(config.database_path) == "smsgw-data/smsgw.db"
    assert config.accounts.max_binds == 2 and config.accounts.throughput == 5
    assert config.smpp.bind_timeout == 10 and config.smpp.response_timeout == 60


def test_with_no_file_everything_listens_on_this_machine_only():
    config = load_config()
    assert config.smpp.host == "127.0.0.1" and config.http.host == "127.0.0.1"
    assert config.metrics.host == "127.0.0.1"
    assert config.admin.allow == ("127.0.0.0/8", "::1/128")


def test_listen_opens_smpp_and_http_but_not_administration(tmp_path):
    from gateway.tap import Options

    options = Options()
    options.parseOptions(["--listen", "0.0.0.0", "--data-dir", str(tmp_path)])
    config = options.gateway_config
    assert config.smpp.host == "0.0.0.0" and config.http.host == "0.0.0.0"
    assert config.admin.allow == ("127.0.0.0/8", "::1/128")
    options = Options()
    options.parseOptions(["--data-dir", str(tmp_path)])
    assert options.gateway_config.smpp.host == "127.0.0.1"


def test_hosts_and_the_admin_networks_from_the_file(tmp_path):
    config = load_config(write(tmp_path, "[smpp]\nhost = '0.0.0.0'\n[http]\nhost = '::'\n"
                                         "[admin]\nallow = ['10.1.2.3', '192.168.0.0/16']\n"))
    assert (config.smpp.host, config.http.host) == ("0.0.0.0", "::")
    assert config.admin.allow == ("10.1.2.3/32", "192.168.0.0/16")


def test_file_values_and_overrides_apply_in_that_order(tmp_path):
    path = write(tmp_path, """
price_per_part = "0.0725"
[smpp]
port = 3000
enquire_link_interval = 15
[simulator]
delay = 0.2
[[simulator.outcomes]]
prefix = "4915"
state = "undeliv"
error_code = 11
""")
    config = load_config(path, {"smpp.port": 4000})
    assert config.smpp.port == 4000
    assert config.smpp.enquire_link_interval == 15.0
    assert config.price_per_part == Decimal("0.0725")
    rule = config.simulator.rules[0]
    assert (rule.prefix, rule.state, rule.error_code) == ("4915", MessageState.UNDELIVERABLE, 11)


@pytest.mark.parametrize("text, key", [
    ("[smpp]\nport = 'x'", "smpp.port"),
    ("[smpp]\nprot = 1", "smpp.prot"),
    ("[smpp]\nport = 70000", "smpp.port"),
    ("[smpp]\ntls_cert = '/nonexistent.pem'\ntls_key = '/nonexistent.key'", "smpp.tls_cert"),
    ("[smpp]\ntls_cert = '/nonexistent.pem'", "smpp.tls_key"),
    ("price_per_part = 'cheap'", "price_per_part"),
    ("node_id = 5000", "node_id"),
    ("[accounts]\nthroughput = -1", "accounts.throughput"),
    ("[[simulator.outcomes]]\nstate = 'LOST'", "simulator.outcomes[0].state"),
    ("[[simulator.outcomes]]\nstate = 'UNDELIV'\npercent = 150", "simulator.outcomes[0].percent"),
    ("[receipts]\nexpiry = 'long'", "receipts.expiry"),
    ("smpp = 3", "smpp"),
    ("[http]\nport = -1", "http.port"),
    ("[http]\nmax_body_size = 10", "http.max_body_size"),
    ("[http]\nprot = 1", "http.prot"),
    ("[http]\nheader_timeout = 0", "http.header_timeout"),
    ("[http]\nbody_timeout = -1", "http.body_timeout"),
    ("[http]\nidle_timeout = 100000", "http.idle_timeout"),
    ("[http]\nmax_connections = 0", "http.max_connections"),
    ("[http]\nmax_connections_per_ip = 'many'", "http.max_connections_per_ip"),
    ("[http]\nmax_connections = 10\nmax_connections_per_ip = 20",
     "http.max_connections_per_ip"),
    ("[admin]\ntoken = 'short'", "admin.token"),
    ("[admin]\nallow = []", "admin.allow"),
    ("[admin]\nallow = '127.0.0.1'", "admin.allow"),
    ("[admin]\nallow = ['10.0.0.0/33']", "admin.allow"),
    ("[admin]\nalow = []", "admin.alow"),
    ("[smpp]\nhost = 'anywhere'", "smpp.host"),
    ("[http]\nhost = 'example.com'", "http.host"),
    ("[http]\naccess_log = 'some'", "http.access_log"),
    ("[http]\naccess_log_file = 1", "http.access_log_file"),
    ("[http]\naccess_log_file = '/nonexistent/smsgw/access.log'", "http.access_log_file"),
    ("[auth]\nfree_attempts = -1", "auth.free_attempts"),
    ("[auth]\nbase_delay = 2\nmax_delay = 1", "auth.max_delay"),
    ("[auth]\nmax_wait = -5", "auth.max_wait"),
    ("[auth]\nverifiers = 0", "auth.verifiers"),
    ("[auth]\nverifier_queue = -1", "auth.verifier_queue"),
    ("[auth]\nremember = 'long'", "auth.remember"),
    ("[auth]\ndelay = 1", "auth.delay"),
    ("[metrics]\nenabled = 'yes'", "metrics.enabled"),
    ("[metrics]\nport = 70000", "metrics.port"),
    ("[metrics]\ntoken = 'short'", "metrics.token"),
    ("[metrics]\naccounts = 'acme'", "metrics.accounts"),
    ("[metrics]\nacounts = []", "metrics.acounts"),
    ("[log]\nformat = 'xml'", "log.format"),
    ("[log]\nlevel = 'loud'", "log.level"),
    ("log = 1", "log"),
])
def test_bad_configuration_names_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert caught.value.key == key
    assert repr(key) in str(caught.value)


def test_unreadable_or_invalid_toml_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[smpp\nport=1"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "missing.toml"))


def test_http_and_admin_sections_and_the_http_port_option(tmp_path):
    config = load_config(write(tmp_path, "[http]\nport = 9090\nmax_body_size = 4096\n"
                                         "[admin]\ntoken = 'a-long-enough-admin-token'"),
                         {"http.port": 0})
    assert config.http.port == 0 and config.http.max_body_size == 4096
    assert config.admin.token == "a-long-enough-admin-token"
    assert load_config().http.port == 8080


def test_the_http_limits_on_slow_and_greedy_clients(tmp_path):
    http = load_config().http
    assert (http.header_timeout, http.body_timeout, http.idle_timeout) == (10.0, 30.0, 60.0)
    assert (http.max_connections, http.max_connections_per_ip) == (2048, 128)
    http = load_config(write(tmp_path, "[http]\nheader_timeout = 2\nbody_timeout = 5\n"
                                       "idle_timeout = 15\nmax_connections = 100\n"
                                       "max_connections_per_ip = 10\n")).http
    assert (http.header_timeout, http.body_timeout, http.idle_timeout) == (2.0, 5.0, 15.0)
    assert (http.max_connections, http.max_connections_per_ip) == (100, 10)


def test_the_access_log_logs_refusals_by_default_and_what_the_file_says_otherwise(tmp_path):
    from gateway.http.access_log import AccessLog
    from gateway.service import http_access_log

    assert http_access_log(load_config().http) == AccessLog(mode="errors", path="")
    http = load_config(write(tmp_path, f"[http]\naccess_log = 'all'\n"
                                       f"access_log_file = '{tmp_path}/access.log'\n")).http
    assert http_access_log(http) == AccessLog(mode="all", path=f"{tmp_path}/access.log")


def test_admin_token_is_generated_once_into_a_private_file(tmp_path):
    import stat

    from gateway.service import admin_token

    token = admin_token(tmp_path)
    assert len(token) >= 32
    assert stat.S_IMODE((tmp_path / "admin-token").stat().st_mode) == 0o600
    assert admin_token(tmp_path) == token


def test_the_auth_section_defaults_and_values(tmp_path):
    auth = load_config().auth
    assert (auth.free_attempts, auth.base_delay, auth.max_delay, auth.max_wait) == (3, 0.5, 8, 60)
    assert (auth.verifiers, auth.verifier_queue, auth.remember) == (2, 1000, 300)
    auth = load_config(write(tmp_path, "[auth]\nverifiers = 4\nmax_wait = 20\n")).auth
    assert auth.verifiers == 4 and auth.max_wait == 20.0


def test_metrics_and_log_sections(tmp_path):
    default = load_config(None)
    assert (default.metrics.enabled, default.metrics.port, default.log.format,
            default.log.level) == (True, 0, "text", "info")
    config = load_config(write(tmp_path, "[metrics]\nenabled = false\nport = 9108\n"
                                         "accounts = ['acme', 'shop']\n"
                                         "[log]\nformat = 'json'\nlevel = 'warn'\n"))
    assert (config.metrics.enabled, config.metrics.port, config.metrics.accounts) == (
        False, 9108, ("acme", "shop"))
    assert (config.log.format, config.log.level) == ("json", "warn")
