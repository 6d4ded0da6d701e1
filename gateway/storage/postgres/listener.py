"""What other nodes do, as PostgreSQL notifies it: a thread of its own LISTENs on a
connection of its own and hands each notification to the reactor thread.

Channels (sent by this backend's SQL, delivered when the sending transaction commits):
`smsgw_outbox` (payload: an account) unclaimed SMPP items were queued or let go;
`smsgw_webhooks` unclaimed webhook items are due; `smsgw_settings` an admin change.
Notifications are a shortcut, not the truth: every consumer also polls, so one lost while
the listener reconnects only costs a poll interval.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

import psycopg
from twisted.python import log

from gateway.storage.postgres.connection import connect

__all__ = ["CHANNELS", "Listener", "StoreListener"]

CHANNELS = ("smsgw_outbox", "smsgw_webhooks", "smsgw_settings")
RECONNECT_DELAY = 1.0


class StoreListener(Protocol):
    """What the gateway does about each notification (wired in service.py)."""

    def outbox_queued(self, account: str) -> None: ...

    def webhooks_queued(self) -> None: ...

    def settings_changed(self) -> None: ...


class Listener:
    def __init__(self, url: str, listener: StoreListener,
                 call_from_thread: Callable[..., None]) -> None:
        self._url = url
        self._listener = listener
        self._call = call_from_thread
        self._stop = threading.Event()
        self._conn: psycopg.Connection | None = None
        self._thread = threading.Thread(target=self._run, name="postgres-listener",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        conn = self._conn
        if conn is not None:
            try:
                conn.cancel_safe()
            except psycopg.Error:
                pass
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg.Error as e:
                if not self._stop.is_set():
                    log.msg(f"store listener: {e}; reconnecting")
            finally:
                conn, self._conn = self._conn, None
                if conn is not None:
                    try:
                        conn.close()
                    except psycopg.Error:
                        pass
            self._stop.wait(RECONNECT_DELAY)

    def _listen(self) -> None:
        self._conn = conn = connect(self._url, application_name="smsgw-listener")
        for channel in CHANNELS:
            conn.execute(f"LISTEN {channel}")
        while not self._stop.is_set():
            for notify in conn.notifies(timeout=1.0):
                self._dispatch(notify.channel, notify.payload)
                if self._stop.is_set():
                    return

    def _dispatch(self, channel: str, payload: str) -> None:
        if channel == "smsgw_outbox":
            self._call(self._listener.outbox_queued, payload)
        elif channel == "smsgw_webhooks":
            self._call(self._listener.webhooks_queued)
        elif channel == "smsgw_settings":
            self._call(self._listener.settings_changed)
