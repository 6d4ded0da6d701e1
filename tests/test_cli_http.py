"""`smsgw apikey ...` and `smsgw price ...` as a user runs them (subprocess, no gateway)."""
from __future__ import annotations

import json
import sqlite3

import pytest
from test_cli import fails, ok

from gateway.core.apikeys import hash_api_key


@pytest.fixture
def data_dir(tmp_path):
    ok(tmp_path, "account", "add", "acme", "--password", "s3cret")
    return tmp_path


def test_apikey_issue_prints_the_key_once_and_stores_only_its_hash(data_dir):
    out = ok(data_dir, "apikey", "issue", "acme", "--label", "shop")
    key = out.splitlines()[1]
    assert key.startswith("smsgw_") and len(key) > 40
    db = sqlite3.connect(data_dir / "smsgw.db")
    try:
        stored = db.execute("SELECT key_hash, label FROM api_keys").fetchall()
    finally:
        db.close()
    assert stored == [(hash_api_key(key), "shop")]
    listed = json.loads(ok(data_dir, "apikey", "list", "acme", "--json"))
    assert [(k["id"], k["label"], k["active"]) for k in listed] == [(1, "shop", True)]
    assert key not in ok(data_dir, "apikey", "list", "acme")


def test_apikey_revoke_then_listed_as_revoked(data_dir):
    ok(data_dir, "apikey", "issue", "acme")
    assert "revoked" in ok(data_dir, "apikey", "revoke", "acme", "1")
    assert json.loads(ok(data_dir, "apikey", "list", "acme", "--json"))[0]["active"] is False
    assert "no active key" in fails(data_dir, "apikey", "revoke", "acme", "1")
    assert "no account" in fails(data_dir, "apikey", "issue", "ghost")


def test_price_set_list_delete(data_dir):
    ok(data_dir, "price", "set", "--account", "acme", "--prefix", "+4917", "0.08")
    ok(data_dir, "price", "set", "0.03")
    ok(data_dir, "price", "set", "--account", "acme", "--prefix", "4917", "0.09")  # changes it
    assert json.loads(ok(data_dir, "price", "list", "--json")) == [
        {"account": "*", "prefix": "", "price": "0.030000"},
        {"account": "acme", "prefix": "4917", "price": "0.090000"}]
    assert json.loads(ok(data_dir, "price", "list", "--account", "acme", "--json")) == [
        {"account": "acme", "prefix": "4917", "price": "0.090000"}]
    ok(data_dir, "price", "delete", "--account", "acme", "--prefix", "4917")
    assert "no price" in fails(data_dir, "price", "delete", "--account", "acme",
                               "--prefix", "4917")


@pytest.mark.parametrize("args", [
    ("price", "set", "--account", "ghost", "1"),
    ("price", "set", "--prefix", "49x", "1"),
    ("price", "set", "-1"),
    ("price", "set", "0.0000001"),
    ("price", "set", "abc"),
])
def test_price_errors_exit_2_naming_the_problem(data_dir, args):
    fails(data_dir, *args)


def price_lines(data_dir, *args: str) -> list[str]:
    return [" ".join(line.split()) for line in ok(data_dir, "price", "list", *args).splitlines()]


def test_price_list_for_an_account_shows_what_it_is_charged(data_dir):
    """The shared '*' price, not price_per_part, is what acme pays where its own table has
    nothing; shared entries its own table overrides are left out."""
    ok(data_dir, "price", "set", "0.06")
    ok(data_dir, "price", "set", "--prefix", "33", "0.04")
    ok(data_dir, "price", "set", "--prefix", "44", "0.045")
    ok(data_dir, "price", "set", "--account", "acme", "--prefix", "3", "0.07")  # covers 33
    lines = price_lines(data_dir, "--account", "acme")
    assert lines[2:] == ["acme 3 0.070000", "* (any) 0.060000", "* 44 0.045000",
                         "otherwise: 0.060000 per part (the shared table '*', any destination)"]
    assert price_lines(data_dir)[-1] == (
        "otherwise: 0.060000 per part (the shared table '*', any destination)")
    ok(data_dir, "price", "set", "--account", "acme", "0.01")
    assert price_lines(data_dir, "--account", "acme")[-1] == (
        "otherwise: 0.010000 per part (acme's table, any destination)")


def test_price_list_falls_back_to_price_per_part_only_when_no_table_applies(data_dir):
    ok(data_dir, "price", "set", "--prefix", "33", "0.04")
    assert price_lines(data_dir, "--account", "acme")[-1] == (
        "otherwise: 0.05 per part (price_per_part)")
