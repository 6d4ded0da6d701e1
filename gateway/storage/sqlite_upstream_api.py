"""The UpstreamStore operations on the two SQLite front-ends: synchronous for the CLI
(`SqliteDatabase`) and group-committed Deferreds for the gateway (`SqliteStore`)."""
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from twisted.internet.defer import Deferred

from gateway.core.connector_settings import ConnectorSettings
from gateway.core.ports import UpstreamRecord
from gateway.core.routing import Route
from gateway.model import Message
from gateway.storage import sqlite_upstream as up
from gateway.storage.group_commit import Op

_ADD_CONNECTOR = Op(up.add_connector, writes=True)
_UPDATE_CONNECTOR = Op(up.update_connector, writes=True)
_REMOVE_CONNECTOR = Op(up.remove_connector, writes=True)
_LIST_CONNECTORS = Op(up.list_connectors, writes=False)
_GET_CONNECTOR = Op(up.get_connector, writes=False)
_ADD_ROUTE = Op(up.add_route, writes=True)
_REMOVE_ROUTE = Op(up.remove_route, writes=True)
_LIST_ROUTES = Op(up.list_routes, writes=False)
_MARK_SUBMITTING = Op(up.mark_submitting, writes=True, many=up.mark_submitting_many)
_RECORD_SUBMITTED = Op(up.record_submitted, writes=True, many=up.record_submitted_many)
_RELEASE_SUBMIT = Op(up.release_submit, writes=True)
_FIND = Op(up.find_by_upstream_id, writes=False)
_RECORDS = Op(up.upstream_records, writes=False)
_REFUND = Op(up.refund, writes=True)
_WRITE_HEALTH = Op(up.write_health, writes=True)
_READ_HEALTH = Op(up.read_health, writes=False)


class UpstreamDatabaseMixin:
    """For SqliteDatabase: each call one committed transaction."""

    def add_connector(self, settings: ConnectorSettings) -> None:
        self._write(up.add_connector, settings)

    def update_connector(self, settings: ConnectorSettings) -> None:
        self._write(up.update_connector, settings)

    def remove_connector(self, name: str) -> None:
        self._write(up.remove_connector, name)

    def list_connectors(self) -> list[ConnectorSettings]:
        return self._read(up.list_connectors)

    def get_connector(self, name: str) -> ConnectorSettings | None:
        return self._read(up.get_connector, name)

    def add_route(self, route: Route) -> int:
        return self._write(up.add_route, route)

    def remove_route(self, route_id: int) -> bool:
        return self._write(up.remove_route, route_id)

    def list_routes(self) -> list[Route]:
        return self._read(up.list_routes)

    def mark_submitting(self, message_id: str, connector: str, at: float) -> None:
        self._write(up.mark_submitting, message_id, connector, at)

    def record_submitted(self, message_id: str, connector: str, upstream_id: str,
                         keys: Sequence[str], at: float) -> None:
        self._write(up.record_submitted, message_id, connector, upstream_id, keys, at)

    def release_submit(self, message_id: str) -> None:
        self._write(up.release_submit, message_id)

    def find_by_upstream_id(self, connector: str, keys: Sequence[str]) -> Message | None:
        return self._read(up.find_by_upstream_id, connector, keys)

    def upstream_records(self, message_ids: Sequence[str]) -> dict[str, UpstreamRecord]:
        return self._read(up.upstream_records, message_ids)

    def refund(self, message_id: str) -> Decimal | None:
        return self._write(up.refund, message_id)

    def write_health(self, snapshots: dict[str, dict], at: float) -> None:
        self._write(up.write_health, snapshots, at)

    def read_health(self) -> dict[str, tuple[dict, float]]:
        return self._read(up.read_health)


class UpstreamStoreMixin:
    """For SqliteStore: Deferreds fired after the group commit."""

    def add_connector(self, settings: ConnectorSettings) -> Deferred[None]:
        return self._submit(_ADD_CONNECTOR, (settings,))

    def update_connector(self, settings: ConnectorSettings) -> Deferred[None]:
        return self._submit(_UPDATE_CONNECTOR, (settings,))

    def remove_connector(self, name: str) -> Deferred[None]:
        return self._submit(_REMOVE_CONNECTOR, (name,))

    def list_connectors(self) -> Deferred[list[ConnectorSettings]]:
        return self._submit(_LIST_CONNECTORS, ())

    def get_connector(self, name: str) -> Deferred[ConnectorSettings | None]:
        return self._submit(_GET_CONNECTOR, (name,))

    def add_route(self, route: Route) -> Deferred[int]:
        return self._submit(_ADD_ROUTE, (route,))

    def remove_route(self, route_id: int) -> Deferred[bool]:
        return self._submit(_REMOVE_ROUTE, (route_id,))

    def list_routes(self) -> Deferred[list[Route]]:
        return self._submit(_LIST_ROUTES, ())

    def mark_submitting(self, message_id: str, connector: str, at: float) -> Deferred[None]:
        return self._submit(_MARK_SUBMITTING, (message_id, connector, at))

    def record_submitted(self, message_id: str, connector: str, upstream_id: str,
                         keys: Sequence[str], at: float) -> Deferred[None]:
        return self._submit(_RECORD_SUBMITTED, (message_id, connector, upstream_id, keys, at))

    def release_submit(self, message_id: str) -> Deferred[None]:
        return self._submit(_RELEASE_SUBMIT, (message_id,))

    def find_by_upstream_id(self, connector: str,
                            keys: Sequence[str]) -> Deferred[Message | None]:
        return self._submit(_FIND, (connector, keys))

    def upstream_records(self, message_ids: Sequence[str]) -> Deferred[dict[str, UpstreamRecord]]:
        return self._submit(_RECORDS, (message_ids,))

    def refund(self, message_id: str) -> Deferred[Decimal | None]:
        return self._submit(_REFUND, (message_id,))

    def write_health(self, snapshots: dict[str, dict], at: float) -> Deferred[None]:
        return self._submit(_WRITE_HEALTH, (snapshots, at))

    def read_health(self) -> Deferred[dict[str, tuple[dict, float]]]:
        return self._submit(_READ_HEALTH, ())
