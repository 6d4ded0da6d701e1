"""The `smsgw` admin CLI as a user runs it: `python -m gateway.cli --data-dir DIR ...` in a
subprocess, no gateway needed. Errors exit 2 with a message that names the problem."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

NO_WEBHOOK = {"webhook_url": "", "webhook_secret": "", "deliver_via": "auto"}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    return env


def smsgw(data_dir: Path, *args: str, config: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "gateway.cli", "--data-dir", str(data_dir)]
    if config is not None:
        cmd += ["--config", str(config)]
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, env=_env(),
                          timeout=60)


def ok(data_dir: Path, *args: str, **kw) -> str:
    result = smsgw(data_dir, *args, **kw)
    assert result.returncode == 0, result.stderr
    return result.stdout


def show(data_dir: Path, system_id: str) -> dict:
    return json.loads(ok(data_dir, "account", "show", system_id, "--json"))


def fails(data_dir: Path, *args: str, **kw) -> str:
    """Run a command that must fail with exit status 2; its stderr."""
    result = smsgw(data_dir, *args, **kw)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.strip(), "an error must say what is wrong"
    return result.stderr


def password_hash(data_dir: Path) -> str:
    db = sqlite3.connect(data_dir / "smsgw.db")
    try:
        return db.execute("SELECT password_hash FROM accounts").fetchone()[0]
    finally:
        db.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A data dir with one account, 'acme', shared by the read-only and error tests."""
    data_dir = tmp_path_factory.mktemp("cli")
    ok(data_dir, "account", "add", "acme", "--password", "s3cret", "--balance", "10")
    return data_dir


def test_add_with_every_option_then_show_and_list(tmp_path):
    out = ok(tmp_path, "account", "add", "shop", "--password", "pw123456", "--balance", "12.5",
             "--max-binds", "3", "--throughput", "7.5", "--window", "20",
             "--allow-ip", "10.1.2.3/8", "--allow-ip", "192.168.0.1")
    assert "account shop created" in out
    expected = {
        "system_id": "shop", "balance": "12.500000", "max_binds": 3, "throughput": 7.5,
        "window": 20, "allow_ips": ["10.0.0.0/8", "192.168.0.1/32"], "enabled": True, **NO_WEBHOOK,
    }
    assert show(tmp_path, "shop") == expected
    assert json.loads(ok(tmp_path, "account", "list", "--json")) == [expected]
    table = ok(tmp_path, "account", "list")
    assert table.splitlines()[0].split()[:2] == ["system_id", "balance"]
    assert table.splitlines()[1].split() == ["shop", "12.500000", "3", "7.5", "20", "enabled"]
    # the password is stored hashed, never in clear (S4)
    stored = password_hash(tmp_path)
    assert "pw123456" not in stored and stored.startswith("scrypt$")


def test_defaults_come_from_the_config(tmp_path):
    ok(tmp_path, "account", "add", "plain", "--password", "x")
    assert show(tmp_path, "plain") == {
        "system_id": "plain", "balance": "0.000000", "max_binds": 2, "throughput": 5.0,
        "window": 10, "allow_ips": [], "enabled": True, **NO_WEBHOOK,
    }
    config = tmp_path / "smsgw.toml"
    config.write_text("[accounts]\nmax_binds = 4\nthroughput = 0\nwindow = 3\n")
    ok(tmp_path, "account", "add", "tuned", "--password", "x", config=config)
    account = show(tmp_path, "tuned")
    assert (account["max_binds"], account["throughput"], account["window"]) == (4, 0.0, 3)
    assert "unlim" in ok(tmp_path, "account", "list")


def test_topup_adds_and_corrects(tmp_path):
    ok(tmp_path, "account", "add", "payer", "--password", "x", "--balance", "1")
    assert "balance of payer: 3.250000" in ok(tmp_path, "account", "topup", "payer", "2.25")
    assert "balance of payer: 2.500000" in ok(tmp_path, "account", "topup", "payer", "-0.75")
    assert show(tmp_path, "payer")["balance"] == "2.500000"


def test_set_changes_settings(tmp_path):
    ok(tmp_path, "account", "add", "tweak", "--password", "old", "--allow-ip", "10.0.0.0/8")
    out = ok(tmp_path, "account", "set", "tweak", "--throughput", "0", "--max-binds", "1",
             "--window", "5", "--disable", "--allow-ip", "127.0.0.1/32")
    assert "account tweak updated" in out
    account = show(tmp_path, "tweak")
    assert (account["throughput"], account["max_binds"], account["window"]) == (0.0, 1, 5)
    assert account["enabled"] is False and account["allow_ips"] == ["127.0.0.1/32"]
    before = password_hash(tmp_path)
    ok(tmp_path, "account", "set", "tweak", "--enable", "--clear-allow-ip", "--password", "new")
    account = show(tmp_path, "tweak")
    assert account["enabled"] is True and account["allow_ips"] == []
    assert password_hash(tmp_path) != before
    assert account["balance"] == "0.000000"  # settings never touch the balance


ERROR_CASES = [
    (["account", "add", "acme", "--password", "other"], "account 'acme' already exists"),
    (["account", "show", "ghost"], "no account 'ghost'"),
    (["account", "topup", "ghost", "1"], "no account 'ghost'"),
    (["account", "set", "ghost", "--disable"], "no account 'ghost'"),
    (["account", "add", "net", "--password", "x", "--allow-ip", "300.1.1.1/8"],
     "'300.1.1.1/8' is not an IP address or CIDR network"),
    (["account", "set", "acme", "--allow-ip", "10.0.0.0/33"], "is not an IP address or CIDR"),
    (["account", "add", "longpw", "--password", "123456789"], "password must be 1-8"),
    (["account", "set", "acme", "--password", "123456789"], "password must be 1-8"),
    (["account", "add", "a" * 16, "--password", "x"], "system_id must be 1-15"),
    (["account", "topup", "acme", "0.0000001"], "more than 6 decimals"),
    (["account", "topup", "acme", "ten"], "'ten' is not a number"),
    (["account", "topup", "acme", "NaN"], "not a finite number"),
    (["account", "add", "neg", "--password", "x", "--balance", "-1"], "must not be negative"),
    (["account", "set", "acme"], "nothing to change"),
    (["account", "set", "acme", "--throughput", "-1"], "must be 0 or more"),
    (["account", "set", "acme", "--max-binds", "0"], "must be at least 1"),
    (["account", "set", "acme", "--window", "two"], "'two' is not a whole number"),
    (["account", "set", "acme", "--enable", "--disable"], "not allowed with argument"),
]


def _case_id(case) -> str:
    return " ".join(case[0][1:])[:40]


@pytest.fixture(scope="module")
def error_results(store) -> dict[tuple[str, ...], subprocess.CompletedProcess]:
    """Every error case run at once (they are independent and must not write): the CLI's
    start-up time dominates, so this keeps the module fast."""
    procs = {}
    for args, _ in ERROR_CASES:
        cmd = [sys.executable, "-m", "gateway.cli", "--data-dir", str(store), *args]
        procs[tuple(args)] = (cmd, subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()))
    results = {}
    for case_id, (cmd, proc) in procs.items():
        out, err = proc.communicate(timeout=60)
        results[case_id] = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    return results


@pytest.mark.parametrize(("args", "message"), ERROR_CASES,
                         ids=[_case_id(c) for c in ERROR_CASES])
def test_errors_exit_2_and_name_the_problem(error_results, args, message):
    result = error_results[tuple(args)]
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr


def test_refused_commands_changed_nothing(store):
    """Runs after the error cases above (same module store): none of them wrote."""
    assert show(store, "acme") == {
        "system_id": "acme", "balance": "10.000000", "max_binds": 2, "throughput": 5.0,
        "window": 10, "allow_ips": [], "enabled": True, **NO_WEBHOOK,
    }
    assert [a["system_id"] for a in json.loads(ok(store, "account", "list", "--json"))] == [
        "acme"]


def test_a_refused_add_creates_nothing(tmp_path):
    """An amount the store cannot keep refuses the whole add, not just the balance."""
    assert "more than 6 decimals" in fails(
        tmp_path, "account", "add", "half", "--password", "x", "--balance", "1.1234567")
    assert "no account 'half'" in fails(tmp_path, "account", "show", "half")
    assert json.loads(ok(tmp_path, "account", "list", "--json")) == []


def test_bad_config_names_the_key(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[accounts]\nbogus = 1\n")
    assert "'accounts.bogus'" in fails(tmp_path, "account", "list", config=config)
    config.write_text("[accounts]\nmax_binds = 0\n")
    assert "'accounts.max_binds'" in fails(tmp_path, "account", "list", config=config)
