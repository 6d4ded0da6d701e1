"""Headless Debian Chromium driven by Playwright's Python package, for the console tests.

The browser is the system's /usr/bin/chromium (`.ci/run` installs Debian's `chromium` when it
is missing); Playwright's own browser downloads are never used. Each launch gets a fresh
user-data-dir, and the flags keep Chromium off the network (no updates, sync, QUIC or
background requests) and working as root in a container (no sandbox) without a GPU.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1366, "height": 900}  # a laptop screen


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does)"
    return None


@contextmanager
def browser_context(user_data_dir: Path) -> Iterator[Any]:
    """A persistent Chromium context over a fresh profile directory."""
    from playwright.sync_api import sync_playwright

    user_data_dir.mkdir(parents=True, exist_ok=False)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
        try:
            yield context
        finally:
            context.close()


def screenshot_dir() -> Path | None:
    """Where the tests save one screenshot per page: $SMSGW_SCREENSHOTS, if set."""
    target = os.environ.get("SMSGW_SCREENSHOTS")
    if not target:
        return None
    path = Path(target)
    path.mkdir(parents=True, exist_ok=True)
    return path
