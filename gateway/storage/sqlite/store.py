"""The default store: one SQLite file in WAL mode, served through the group-commit writer.

`SQLITE_OPS` names the function behind every store operation (and whether it writes, and
its multi-row form); `SqliteStore` opens a file and serves them. The gateway and the
`smsgw` CLI both use it, on the same file at once if need be.
"""
from __future__ import annotations

import os

from twisted.internet.interfaces import IReactorFromThreads

from gateway.storage.batched import BatchedStore
from gateway.storage.group_commit import BatchObserver, GroupCommitWriter
from gateway.storage.ops import Op, StoreOps
from gateway.storage.sqlite import accounts as acc
from gateway.storage.sqlite import cluster as cl
from gateway.storage.sqlite import http_api as api
from gateway.storage.sqlite import inbound as mo
from gateway.storage.sqlite import messages as msg
from gateway.storage.sqlite import outbox as box
from gateway.storage.sqlite import reports as rep
from gateway.storage.sqlite import scheduled as sch
from gateway.storage.sqlite import upstream as up
from gateway.storage.sqlite import webhooks as wh
from gateway.storage.sqlite.connection import connect
from gateway.storage.sqlite.writer import SqliteTransactions

__all__ = ["DEFAULT_BUSY_TIMEOUT", "SQLITE_OPS", "SqliteStore"]

DEFAULT_BUSY_TIMEOUT = 5.0


def _w(fn, many=None) -> Op:
    return Op(fn, writes=True, many=many)


def _r(fn) -> Op:
    return Op(fn, writes=False)


SQLITE_OPS = StoreOps(
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


class SqliteStore(BatchedStore):
    """The store over a SQLite file, with group commit. Call it from the reactor thread.

    Opening (and migrating) the file happens in the constructor, so a bad path fails at
    start; from then on one writer thread owns the connection until `close()`.
    """

    backend = "sqlite"

    def __init__(
        self,
        path: str | os.PathLike[str],
        reactor: IReactorFromThreads,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        observer: BatchObserver | None = None,
    ) -> None:
        self.path = os.fspath(path)
        conn = connect(path, busy_timeout)
        writer = GroupCommitWriter(SqliteTransactions(conn, busy_timeout),
                                   reactor.callFromThread, name="sqlite-writer",
                                   observer=observer)
        super().__init__(writer, SQLITE_OPS)
