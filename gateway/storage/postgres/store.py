"""The PostgreSQL store: several gateway nodes on one database, served through the same
group-commit writer as SQLite (one connection, one thread: see writer.py for why), with a
listener for what the other nodes do.

`POSTGRES_OPS` names the function behind every store operation; `PostgresStore` connects,
migrates and serves them. The gateway and the `smsgw` CLI both use it.
"""
from __future__ import annotations

from twisted.internet.interfaces import IReactorFromThreads
from twisted.python import log

from gateway.core.ports import StoreListener
from gateway.storage.batched import BatchedStore
from gateway.storage.group_commit import BatchObserver, GroupCommitWriter
from gateway.storage.ops import Op, StoreOps
from gateway.storage.postgres import accounts as acc
from gateway.storage.postgres import cluster as cl
from gateway.storage.postgres import http_api as api
from gateway.storage.postgres import inbound as mo
from gateway.storage.postgres import messages as msg
from gateway.storage.postgres import outbox as box
from gateway.storage.postgres import reports as rep
from gateway.storage.postgres import scheduled as sch
from gateway.storage.postgres import upstream as up
from gateway.storage.postgres import webhooks as wh
from gateway.storage.postgres.connection import connect, migrate, redacted
from gateway.storage.postgres.listener import Listener
from gateway.storage.postgres.writer import PostgresTransactions

__all__ = ["POSTGRES_OPS", "PostgresStore", "connect_error"]


def _w(fn, many=None) -> Op:
    return Op(fn, writes=True, many=many)


def _r(fn) -> Op:
    return Op(fn, writes=False)


POSTGRES_OPS = StoreOps(
    add_account=_w(acc.add_account),
    update_account=_w(acc.update_account),
    get_account=_r(acc.get_account),
    list_accounts=_r(acc.list_accounts),
    topup=_w(acc.topup),
    settings_version=_r(acc.settings_version),
    accept=_w(msg.accept, msg.accept_many),
    accept_replacing=_w(msg.accept_replacing),
    get_message=_r(msg.get_message),
    finish=_w(msg.finish, msg.finish_many),
    last_message_id=_r(msg.last_message_id),
    scheduled_messages=_r(sch.scheduled_messages),
    start_scheduled=_w(sch.start_scheduled),
    cancel=_w(sch.cancel),
    cancel_matching=_w(sch.cancel_matching),
    replace=_w(sch.replace),
    queue_outbox=_w(box.queue_outbox, box.queue_outbox_many),
    claim_outbox=_w(box.claim_outbox),
    pending_outbox=_r(box.pending_outbox),
    release_outbox=_w(box.release_outbox, box.release_outbox_many),
    ack_outbox=_w(box.ack_outbox, box.ack_outbox_many),
    expire_outbox=_w(box.expire_outbox),
    set_price=_w(api.set_price),
    delete_price=_w(api.delete_price),
    list_prices=_r(api.list_prices),
    add_api_key=_w(api.add_api_key),
    list_api_keys=_r(api.list_api_keys),
    revoke_api_key=_w(api.revoke_api_key),
    account_for_api_key=_r(api.account_for_api_key),
    accept_once=_w(api.accept_once),
    expire_idempotency=_w(api.expire_idempotency),
    add_number=_w(mo.add_number),
    remove_number=_w(mo.remove_number),
    list_numbers=_r(mo.list_numbers),
    add_inbound_part=_w(mo.add_inbound_part),
    complete_inbound=_w(mo.complete_inbound),
    held_inbound=_r(mo.held_inbound),
    claim_webhooks=_w(wh.claim_webhooks),
    webhooks_delivered=_w(wh.webhooks_delivered, wh.webhooks_delivered_many),
    webhook_failed=_w(wh.webhook_failed, wh.webhook_failed_many),
    release_webhooks=_w(wh.release_webhooks),
    list_webhooks=_r(wh.list_webhooks),
    replay_webhooks=_w(wh.replay_webhooks),
    webhook_counts=_r(wh.webhook_counts),
    add_connector=_w(up.add_connector),
    update_connector=_w(up.update_connector),
    remove_connector=_w(up.remove_connector),
    list_connectors=_r(up.list_connectors),
    get_connector=_r(up.get_connector),
    add_route=_w(up.add_route),
    remove_route=_w(up.remove_route),
    list_routes=_r(up.list_routes),
    mark_submitting=_w(up.mark_submitting, up.mark_submitting_many),
    record_submitted=_w(up.record_submitted, up.record_submitted_many),
    release_submit=_w(up.release_submit),
    find_by_upstream_id=_r(up.find_by_upstream_id),
    upstream_records=_r(up.upstream_records),
    refund=_w(up.refund),
    write_health=_w(up.write_health),
    read_health=_r(up.read_health),
    join_cluster=_w(cl.join_cluster),
    heartbeat=_w(cl.heartbeat),
    claim_dead_owner=_w(cl.claim_dead_owner),
    adopt_messages=_w(msg.adopt_messages),
    retire_owner=_w(cl.retire_owner),
    leave_cluster=_w(cl.leave_cluster),
    release_claims=_w(cl.release_claims),
    add_bind=_w(cl.add_bind),
    remove_bind=_w(cl.remove_bind),
    count_binds=_r(cl.count_binds),
    cdrs=_r(rep.cdrs),
    ping=_w(rep.ping),
    queue_depths=_r(rep.queue_depths),
    find_messages=_r(rep.find_messages),
)


def connect_error(url: str, error: Exception) -> str:
    """What to tell an operator whose database cannot be opened."""
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"cannot use the PostgreSQL database {redacted(url)}: {reason}"


class PostgresStore(BatchedStore):
    """The store over a PostgreSQL database. Call it from the reactor thread.

    Connecting and migrating happen in the constructor, so an unreachable or wrong
    database fails at start; from then on one writer thread owns the connection (and
    reopens it when it is lost) until `close()`.
    """

    backend = "postgresql"

    def __init__(self, url: str, reactor: IReactorFromThreads, *,
                 observer: BatchObserver | None = None) -> None:
        self.url = url
        self._reactor = reactor
        conn = connect(url, application_name="smsgw-writer")
        try:
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._listener: Listener | None = None
        self._watcher: StoreListener | None = None
        tx = PostgresTransactions(url, conn, on_reconnect=self._reconnected)
        writer = GroupCommitWriter(tx, reactor.callFromThread, name="postgres-writer",
                                   observer=observer)
        super().__init__(writer, POSTGRES_OPS)

    def watch(self, listener: StoreListener) -> None:
        """Hand `listener` the other nodes' notifications (from now until close)."""
        self._watcher = listener
        if self._listener is None:
            self._listener = Listener(self.url, listener, self._reactor.callFromThread)

    def _reconnected(self) -> None:  # the writer thread
        watcher = self._watcher
        if watcher is not None:
            self._reactor.callFromThread(watcher.reconnected)

    def close(self):
        if self._listener is not None:
            listener, self._listener = self._listener, None
            try:
                listener.stop()
            except Exception as e:  # noqa: BLE001 -- closing goes on
                log.err(e, "stopping the store listener")
        return super().close()
