"""A scripted upstream SMSC on loopback for fault drills: a thread with a listening socket,
speaking SMPP through the gateway's own sans-I/O Session in the SMSC role.

Per connection it accepts the bind, then for every submit_sm consults `script(n)` (n
counts submits over all connections) which says what to do: answer after a delay, answer
with an error, leave it unanswered, or drop the connection. Accepted submits get a
DELIVRD receipt (deliver_sm) right after the answer, with the upstream id in hex.
"""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.smpp import pdu as P
from gateway.smpp.events import CloseConnection, RequestReceived
from gateway.smpp.session import Role, Session, SessionConfig


@dataclass(frozen=True)
class Act:
    kind: str = "ok"  # ok | error | silent | drop
    delay: float = 0.0
    status: int = 0


class FakeUpstream:
    def __init__(self, script: Callable[[int], Act]) -> None:
        self.script = script
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.received: list[bytes] = []  # short_message of every submit_sm, in order
        self.accepted: dict[str, bytes] = {}  # upstream id -> short_message
        self.connections = 0
        self._stop = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop = True
        self.listener.close()
        self._thread.join(5)

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        session = Session(SessionConfig(role=Role.SMSC, bind_timeout=0,
                                        enquire_link_interval=0, window=1000), time.time())
        conn.settimeout(0.2)
        try:
            while not self._stop:
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    return
                for event in session.receive_data(data, time.time()):
                    if isinstance(event, CloseConnection):
                        conn.sendall(session.data_to_send())
                        return
                    if not isinstance(event, RequestReceived):
                        continue
                    pdu = event.pdu
                    if isinstance(pdu, (P.BindTransceiver, P.BindTransmitter, P.BindReceiver)):
                        session.accept_bind(pdu, time.time())
                    elif isinstance(pdu, P.SubmitSm):
                        if not self._submit(session, conn, pdu):
                            return
                    elif isinstance(pdu, P.DataSm):
                        session.send_response(P.DataSmResp(sequence_number=pdu.sequence_number))
                conn.sendall(session.data_to_send())
        except OSError:
            return
        finally:
            conn.close()

    def _submit(self, session: Session, conn: socket.socket, pdu: P.SubmitSm) -> bool:
        with self._lock:
            n = len(self.received)
            self.received.append(pdu.short_message)
        act = self.script(n)
        if act.kind == "drop":
            conn.sendall(session.data_to_send())
            return False
        if act.kind == "silent":
            return True
        if act.delay:
            time.sleep(act.delay)
        if act.kind == "error":
            session.send_response(P.SubmitSmResp(sequence_number=pdu.sequence_number,
                                                 command_status=act.status))
            return True
        upstream_id = format(100000 + n, "X")
        with self._lock:
            self.accepted[upstream_id] = pdu.short_message
        session.send_response(P.SubmitSmResp(sequence_number=pdu.sequence_number,
                                             message_id=upstream_id))
        text = (f"id:{int(upstream_id, 16)} sub:001 dlvrd:001 submit date:2611220000 "
                f"done date:2611220000 stat:DELIVRD err:000 text:x").encode()
        session.send_request(P.DeliverSm(esm_class=0x04, short_message=text), time.time())
        return True
