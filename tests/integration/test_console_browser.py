"""The web console in a real browser (headless Debian Chromium through Playwright) against
the real gateway: sign in with the admin token, see a bind made by smpplib appear live, top
up an account and see the new balance, find a message by id and see DELIVRD, replay a
dead letter; the session cookie's flags and CSRF protection. With $SMSGW_SCREENSHOTS set
the tests save one screenshot per page there (docs/ holds the README's)."""
from __future__ import annotations

import math
import re
import socket
import time

import pytest
from browser import browser_context, chromium_missing, screenshot_dir
from gateway_harness import Esme, HttpClient, wait_for
from webhook_receiver import Receiver

pytestmark = pytest.mark.integration

SECRET = "whsec-console-0123456789"
GATEWAY_CONFIG = {
    "simulator": {"delay": 0.05},
    "webhooks": {"timeout": 1.0, "retry_initial": 0.2, "retry_max": 0.5,
                 "poll_interval": 0.2, "dead_letter_after": 1.0},
}
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    missing = chromium_missing()
    if missing:
        pytest.fail(missing)
    with browser_context(tmp_path_factory.mktemp("chromium") / "profile") as context:
        context.set_default_timeout(TIMEOUT_MS)
        yield context


@pytest.fixture(scope="module")
def page(context, gateway):
    context.clear_cookies()  # whatever an earlier test left: sign in afresh
    page = context.new_page()
    page.goto(f"{gateway.http_url}/console/")
    page.fill("input[name=token]", gateway.admin_token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{gateway.http_url}/console/")
    yield page
    page.close()


def shot(page, name: str) -> None:
    target = screenshot_dir()
    if target is not None:
        page.screenshot(path=str(target / f"console-{name}.png"), full_page=True)


def send_traffic(esme: Esme, seconds: float) -> list[str]:
    """40 submits at once; with `seconds`, then traffic whose rate swells and ebbs (10 to
    150 a second) for that long, so a screenshot's chart shows a real shape."""
    ids = [esme.submit_ok(f"4917{n:07d}", b"console %d" % n) for n in range(40)]
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        burst = int(10 + 140 * abs(math.sin(elapsed / 12)))
        sent = [esme.send_submit(f"4916{n:07d}", b"load") for n in range(burst)]
        ids += [esme.response_to(r).message_id.decode() for r in sent]
        esme.drain(max(0.0, 1.0 - (time.monotonic() - started - elapsed)))
    return ids


def test_signing_in_needs_the_admin_token_and_sets_a_strict_httponly_cookie(context, gateway):
    page = context.new_page()
    try:
        page.goto(f"{gateway.http_url}/console/accounts")
        assert page.url.endswith("/console/login")  # not signed in: the login page
        shot(page, "login")
        page.fill("input[name=token]", "not-the-token")
        page.click("button[type=submit]")
        assert "That is not the admin token." in page.inner_text("main")
        page.fill("input[name=token]", gateway.admin_token)
        page.click("button[type=submit]")
        page.wait_for_url(f"{gateway.http_url}/console/")
        [cookie] = [c for c in context.cookies() if c["name"] == "smsgw_console"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert cookie["path"] == "/console/"
        assert page.evaluate("document.cookie") == ""  # out of scripts' reach
    finally:
        page.close()


def test_a_bind_made_by_smpplib_appears_on_the_overview(page, gateway, new_account):
    system_id, password = new_account(balance="100000")
    page.goto(f"{gateway.http_url}/console/")
    binds = page.locator("#binds")
    assert system_id not in binds.inner_text()
    with Esme(gateway, system_id, password) as esme:
        row = binds.locator("tr", has_text=system_id)
        row.wait_for()  # the overview refreshes itself: no reload
        assert "trx" in row.inner_text()
        ids = send_traffic(esme, seconds=100 if screenshot_dir() else 0)
        esme.wait_receipts(ids, timeout=30)
        page.locator("#totals tr", has_text=re.compile(
            rf"Final: DELIVRD\s*{len(ids):,}$")).wait_for()
        page.wait_for_selector("#chart canvas")
        shot(page, "overview")
    row.wait_for(state="detached")


def test_topping_up_an_account_shows_the_new_balance(page, gateway, new_account):
    system_id, _ = new_account(balance="10")
    page.goto(f"{gateway.http_url}/console/accounts")
    page.click(f"a:text-is('{system_id}')")
    assert page.inner_text("#balance") == "10.000000"
    page.fill("input[name=amount]", "25.50")
    page.click("button:text('Top up')")
    assert "the balance is 35.500000" in page.inner_text(".notice-ok")
    assert page.inner_text("#balance") == "35.500000"
    assert gateway.balance(system_id) == 35.5
    page.fill("input[name=amount]", "lots")
    page.click("button:text('Top up')")
    assert "'lots' is not an amount" in page.inner_text(".notice-error")
    assert page.inner_text("#balance") == "35.500000"
    page.fill("input[name=label]", "web shop")
    page.click("button:text('Issue API key')")
    assert re.search(r"not shown again: smsgw_\S+", page.inner_text(".notice-ok"))
    shot(page, "account")
    page.goto(f"{gateway.http_url}/console/accounts")
    shot(page, "accounts")


def test_finding_a_message_by_id_shows_delivrd_and_its_timeline(page, gateway, new_account):
    system_id, password = new_account()
    with Esme(gateway, system_id, password) as esme:
        message_id = esme.submit_ok("4917612345678", b"find me")
        esme.wait_receipts([message_id])
    page.goto(f"{gateway.http_url}/console/messages")
    page.fill("input[name=q]", message_id)
    page.click("button:text('Search')")
    page.wait_for_url(re.compile(rf".*/console/messages/{message_id}$"))
    facts = page.inner_text("table.facts")
    assert "DELIVRD" in facts and system_id in facts and "4917612345678" in facts
    timeline = page.inner_text("ol.timeline")
    assert "Accepted" in timeline and "Sent" in timeline and "delivered" in timeline
    shot(page, "message")
    page.goto(f"{gateway.http_url}/console/messages")
    page.fill("input[name=q]", "+4917612345678")
    page.click("button:text('Search')")
    assert message_id in page.inner_text("main table")
    shot(page, "messages")
    page.fill("input[name=q]", "4900000000")
    page.click("button:text('Search')")
    assert "No message matches" in page.inner_text("main")


def test_replaying_a_dead_letter_sends_it_again(page, gateway):
    receiver = Receiver(secret=SECRET, mode="fail").start()
    try:
        account = gateway.add_account(None, "secret1", "100", "--throughput", "0",
                                      "--webhook-url", receiver.url, "--webhook-secret",
                                      SECRET)
        client = HttpClient(gateway, basic=account)
        status, body, _ = client.call("POST", "/api/v1/messages",
                                      {"to": "4917000042", "text": "hook", "dlr": True})
        client.close()
        assert status == 202, body
        message_id = body["messages"][0]["id"]
        wait_for(lambda: gateway.query_db(
            "SELECT count(*) FROM webhook_outbox WHERE message_id = ? AND dead_at IS NOT NULL",
            (message_id,)) == [(1,)], timeout=20, message="the webhook dead-lettered")
        receiver.set_mode("ok")
        page.goto(f"{gateway.http_url}/console/webhooks")
        row = page.locator("tr", has_text=message_id)
        assert "HTTP 503" in row.inner_text()
        shot(page, "webhooks")
        row.locator("input[type=checkbox]").check()
        page.click("button:text('Replay selected')")
        assert "1 dead letter replayed" in page.inner_text(".notice-ok")
        wait_for(lambda: any(d.event["data"]["message_id"] == message_id
                             for d in receiver.accepted()), timeout=15,
                 message="the replayed webhook delivered")
        page.goto(f"{gateway.http_url}/console/webhooks")
        assert message_id not in page.inner_text("main")
    finally:
        receiver.stop()


def test_routes_and_connectors_page_lists_both(page, gateway):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens: the connector stays down
    gateway.run_cli("connector", "add", "op-test", "--host", "127.0.0.1", "--port", str(port),
                    "--system-id", "me", "--password", "pw")
    gateway.run_cli("route", "add", "33", "--connector", "op-test")
    page.goto(f"{gateway.http_url}/console/routes")
    page.locator("tr", has_text="op-test").first.wait_for()

    def listed() -> bool:
        page.reload()
        text = page.inner_text("main")
        return "op-test ×1" in text and "down" in text

    wait_for(listed, timeout=15, message="the connector and its route listed")
    shot(page, "routes")


def test_a_change_without_the_csrf_token_is_refused_and_changes_nothing(page, gateway,
                                                                        new_account):
    system_id, _ = new_account(balance="10")
    answer = page.request.post(f"{gateway.http_url}/console/accounts/{system_id}/topup",
                               form={"amount": "1000"})
    assert answer.status == 403
    assert "did not come from this console session" in answer.text()
    answer = page.request.post(f"{gateway.http_url}/console/accounts/{system_id}/topup",
                               form={"amount": "1000", "csrf": "forged"})
    assert answer.status == 403
    assert gateway.balance(system_id) == 10


def test_pages_answer_html_errors_not_json(page, gateway):
    answer = page.goto(f"{gateway.http_url}/console/accounts/nobody")
    assert answer.status == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "There is no account 'nobody'." in page.inner_text("main")
    answer = page.goto(f"{gateway.http_url}/console/no-such-page")
    assert answer.status == 404 and "There is no such page." in page.inner_text("main")
