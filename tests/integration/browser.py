"""Headless Debian Chromium driven by Playwright's Python package, for the console tests.

The browser is the system's /usr/bin/chromium (`.ci/run` installs Debian's `chromium` when it
is missing); Playwright's own browser downloads are never used. Each launch gets a fresh
user-data-dir, and the flags keep Chromium off the network (no updates, sync, QUIC or
background requests) and working as root in a container (no sandbox) without a GPU.
"""
from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future
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
    """A persistent Chromium context over a fresh profile directory.

    Playwright's sync API runs on greenlets, and so does pytest-twisted, which runs every
    test inside its reactor greenlet: mixed in one thread, a Playwright greenlet ending
    later switches into the wrong place and stops the test reactor. So Playwright lives in
    a thread of its own, and the context handed out is a proxy whose every call runs there.
    """
    user_data_dir.mkdir(parents=True, exist_ok=False)
    worker = _BrowserThread()
    try:
        context = worker.call(worker.launch, user_data_dir)
        try:
            yield _Remote(worker, context)
        finally:
            worker.call(context.close)
    finally:
        worker.stop()


class _BrowserThread:
    """One thread that owns Playwright and runs the calls it is handed, in order."""

    def __init__(self) -> None:
        self._calls: queue.Queue = queue.Queue()
        self._playwright: Any = None
        self._thread = threading.Thread(target=self._run, name="playwright", daemon=True)
        self._thread.start()

    def launch(self, user_data_dir: Path) -> Any:
        from playwright.sync_api import sync_playwright

        self._manager = sync_playwright()
        self._playwright = self._manager.__enter__()
        return self._playwright.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport=VIEWPORT, locale="en-US", timezone_id="UTC")

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        done: Future = Future()
        self._calls.put((fn, args, kwargs, done))
        return done.result()

    def stop(self) -> None:
        self._calls.put(None)
        self._thread.join(30)

    def _run(self) -> None:
        while (call := self._calls.get()) is not None:
            fn, args, kwargs, done = call
            try:
                done.set_result(fn(*args, **kwargs))
            except BaseException as e:  # noqa: BLE001 -- raised again in the caller
                done.set_exception(e)
        if self._playwright is not None:
            self._manager.__exit__(None, None, None)


_PLAIN = (str, bytes, int, float, bool, type(None), dict, list, tuple)


class _Remote:
    """Stands for a Playwright object of the browser thread: attribute reads and calls run
    there; plain values come back as they are, anything else as another _Remote."""

    def __init__(self, worker: _BrowserThread, target: Any) -> None:
        self._worker = worker
        self._target = target

    def _wrap(self, value: Any) -> Any:
        return value if isinstance(value, _PLAIN) else _Remote(self._worker, value)

    def __getattr__(self, name: str) -> Any:
        return self._wrap(self._worker.call(getattr, self._target, name))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._wrap(self._worker.call(self._target, *args, **kwargs))


def screenshot_dir() -> Path | None:
    """Where the tests save one screenshot per page: $SMSGW_SCREENSHOTS, if set."""
    target = os.environ.get("SMSGW_SCREENSHOTS")
    if not target:
        return None
    path = Path(target)
    path.mkdir(parents=True, exist_ok=True)
    return path
