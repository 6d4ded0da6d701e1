"""The gateway as a Twisted service: wires store, core, connector and listeners together,
and takes them down in order (unbind, drain, close the store)."""
from __future__ import annotations

import os
import secrets
import string
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from treq.client import HTTPClient
from twisted.application.service import MultiService
from twisted.internet import ssl
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import SSL4ServerEndpoint, TCP4ServerEndpoint, TCP6ServerEndpoint
from twisted.internet.interfaces import IReactorThreads, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import ILogObserver, Logger
from twisted.python.components import Componentized
from twisted.web.client import Agent, HTTPConnectionPool, _HTTP11ClientFactory

from gateway.config import Config
from gateway.connectors.registry import ConnectorRegistry
from gateway.connectors.simulator import SimulatorConnector
from gateway.connectors.smpp import SmppConnector
from gateway.core.accounts import Authenticator, thread_runner
from gateway.core.binds import BindRegistry
from gateway.core.connector_settings import ConnectorSettings
from gateway.core.delivery import Delivery
from gateway.core.fanout import Subscriptions
from gateway.core.ids import MessageIdGenerator
from gateway.core.inbound import InboundRouter
from gateway.core.numbers import NumberDirectory
from gateway.core.passwords import hash_password
from gateway.core.ports import Store
from gateway.core.pricing import Pricing
from gateway.core.router import Router
from gateway.http.admin import AccountDefaults, AdminApi
from gateway.http.admin_cdrs import CdrAdmin
from gateway.http.admin_mo import MessagingAdmin
from gateway.http.admin_upstream import UpstreamAdmin
from gateway.http.api import PublicApi
from gateway.http.auth import HttpAuthenticator
from gateway.http.console.app import Console
from gateway.http.site import make_site
from gateway.http.webhooks import WebhookSender
from gateway.model import Account
from gateway.ops.metrics import GatewayMetrics
from gateway.ops.runtime import OpsRuntime
from gateway.storage.sqlite import SqliteStore
from gateway.transport.smpp_server import SmscServer, SmscSettings, smsc_session_config

log = Logger()

SETTINGS_POLL_INTERVAL = 2.0
IDEMPOTENCY_SWEEP_INTERVAL = 3600.0
ADMIN_TOKEN_FILE = "admin-token"
UNBIND_TIMEOUT = 5.0
DEMO_SYSTEM_ID = "demo"


class GatewayService(MultiService):
    def __init__(self, config: Config, reactor, out: TextIO | None = None) -> None:
        super().__init__()
        self.config = config
        self.reactor = reactor
        self.out = out or sys.stdout
        self.ready: Deferred | None = None
        self.store: SqliteStore | None = None
        self.smsc: SmscServer | None = None
        self.router: Router | None = None
        self.ports: list = []
        self._watcher: LoopingCall | None = None
        self._sweeper: LoopingCall | None = None
        self.admin_token = ""
        self._settings_version = -1
        self.http_port = None
        self.http_auth: HttpAuthenticator | None = None
        # Klein apps other parts of the gateway mount under /admin/v1/<name>/
        self.admin_sections: dict = {}
        self.registry: ConnectorRegistry | None = None
        self.parts: Components | None = None
        self.metrics: GatewayMetrics | None = None
        self.ops: OpsRuntime | None = None

    # twistd's log output as [log] says (ops/logs.runner_observer); tap.py sets it
    log_observer: ILogObserver | None = None

    def setServiceParent(self, parent) -> None:
        # twistd logs through the Application's ILogObserver component when it has one
        if (self.log_observer is not None and isinstance(parent, Componentized)
                and parent.getComponent(ILogObserver) is None):
            parent.setComponent(ILogObserver, self.log_observer)
        super().setServiceParent(parent)

    def startService(self) -> None:
        super().startService()
        self.ready = ensureDeferred(self._start())
        self.ready.addErrback(self._start_failed)

    def _start_failed(self, failure) -> None:
        log.failure("smsgw could not start", failure)
        print(f"smsgw could not start: {failure.getErrorMessage()}", file=sys.stderr)
        if self.reactor.running:
            self.reactor.stop()
        return failure

    async def _start(self) -> None:
        config = self.config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        if config.metrics.enabled:
            self.metrics = GatewayMetrics(accounts=config.metrics.accounts)
        observer = self.metrics.store_batch_done if self.metrics is not None else None
        self.store = store = SqliteStore(str(config.database_path), self.reactor,
                                         observer=observer)
        parts = wire(config, store, await store.last_message_id(), self.reactor, self.reactor,
                     webhook_http=webhook_client(self.reactor, config.webhooks.concurrency),
                     metrics=self.metrics)
        self.parts = parts
        self.ops = OpsRuntime(config=config.metrics, store=store, clock=self.reactor,
                              metrics=self.metrics)
        self.ops.attach(parts, self._named_ports, len(self._listener_names()))
        self.simulator, self.router, self.delivery, self.smsc = (
            parts.simulator, parts.router, parts.delivery, parts.smsc)
        self.registry = parts.registry
        # the admin sections `connectors` and `routes`
        upstream_admin = UpstreamAdmin(
            store, health=self.registry.health,
            apply=lambda: ensureDeferred(self._load_upstream()))
        self.admin_sections.update(upstream_admin.sections())
        self.admin_sections.update(MessagingAdmin(
            store=store, webhook_store=store, simulator=parts.simulator, clock=self.reactor,
            settings_changed=lambda: ensureDeferred(self._apply_settings()),
            sender=parts.webhooks).sections())
        self.admin_sections.update(CdrAdmin(store=store, clock=self.reactor).sections())
        router, delivery = parts.router, parts.delivery
        self.pricing, self.binds = parts.pricing, parts.binds
        parts.pricing.load(await store.list_prices())
        self.admin_token = config.admin.token or admin_token(config.data_dir)
        demo_password = await self._ensure_demo_account(store)
        parts.subscriptions.load(await store.list_accounts())
        parts.directory.load(await store.list_numbers())
        await self._load_upstream()  # before recovery: recovered messages may route there
        recovered = await router.recover()
        if recovered:
            log.info("re-dispatched {n} messages accepted before the last stop", n=recovered)
        delivery.start()
        parts.inbound.start()
        if parts.webhooks is not None:
            parts.webhooks.start()
        self._settings_version = await store.settings_version()  # baseline before any bind
        self.ops.start()
        await self._listen()
        await self.ops.listen(self.reactor)
        if demo_password:
            self._print_demo_banner(demo_password)
        self._watcher = LoopingCall(lambda: ensureDeferred(self._watch_settings()))
        self._watcher.clock = self.reactor
        self._watcher.start(SETTINGS_POLL_INTERVAL, now=False)
        self._sweeper = LoopingCall(self._sweep_idempotency)
        self._sweeper.clock = self.reactor
        self._sweeper.start(IDEMPOTENCY_SWEEP_INTERVAL, now=True)

    def _sweep_idempotency(self) -> Deferred:
        before = self.reactor.seconds() - self.config.http.idempotency_ttl
        d = self.store.expire_idempotency(before)
        d.addErrback(lambda f: log.failure("forgetting old idempotency keys failed", f))
        return d

    async def _listen(self) -> None:
        smpp = self.config.smpp
        endpoint_cls = TCP6ServerEndpoint if ":" in smpp.host else TCP4ServerEndpoint
        plain = endpoint_cls(self.reactor, smpp.port, interface=smpp.host)
        self.ports.append(await plain.listen(self.smsc))
        log.info("SMPP listening on {host}:{port}", host=smpp.host,
                 port=self.ports[-1].getHost().port, event="listening")
        if smpp.tls_enabled:
            context = tls_context(Path(smpp.tls_cert), Path(smpp.tls_key))
            secure = SSL4ServerEndpoint(self.reactor, smpp.tls_port, context, interface=smpp.host)
            self.ports.append(await secure.listen(self.smsc))
            log.info("SMPP over TLS listening on {host}:{port}", host=smpp.host,
                     port=self.ports[-1].getHost().port, event="listening")
        http = self.config.http
        endpoint_cls = TCP6ServerEndpoint if ":" in http.host else TCP4ServerEndpoint
        site = self._http_site()
        self.http_port = await endpoint_cls(self.reactor, http.port, interface=http.host).listen(
            site)
        self.ports.append(self.http_port)
        log.info("HTTP listening on {host}:{port}", host=http.host,
                 port=self.http_port.getHost().port, event="listening")

    def _listener_names(self) -> list[str]:
        return ["smpp", *(["smpp-tls"] if self.config.smpp.tls_enabled else []), "http"]

    def _named_ports(self) -> list[tuple[str, object]]:
        return list(zip(self._listener_names(), self.ports, strict=False))

    def _http_site(self):
        config, store = self.config, self.store
        run = thread_runner(self.reactor)
        self.http_auth = HttpAuthenticator(store, store, self.reactor, run,
                                           cache_ttl=config.http.auth_cache)
        api = PublicApi(router=self.router, store=store, clock=self.reactor,
                        authenticator=self.http_auth, metrics=self.metrics)
        defaults = config.accounts
        admin_defaults = AccountDefaults(max_binds=defaults.max_binds,
                                         throughput=defaults.throughput, window=defaults.window)
        admin = AdminApi(
            token=self.admin_token, store=store, binds=self.binds, clock=self.reactor,
            run_in_thread=run, sections=self.admin_sections,
            settings_changed=lambda: ensureDeferred(self._apply_settings()),
            defaults=admin_defaults)
        smpp_port = config.smpp.port
        console = Console(
            token=self.admin_token, store=store, binds=self.binds, registry=self.registry,
            simulator=self.simulator, sender=self.parts.webhooks, ops=self.ops,
            clock=self.reactor, run_in_thread=run,
            settings_changed=lambda: ensureDeferred(self._apply_settings()),
            smpp_port=lambda: self.ports[0].getHost().port if self.ports else smpp_port,
            defaults=admin_defaults)
        return make_site(api, admin, config.http.max_body_size, ops=self.ops.endpoints,
                         console=console)

    async def _ensure_demo_account(self, store: SqliteStore) -> str | None:
        """On a first start (no account at all) create the demo account; return its password."""
        if await store.list_accounts():
            return None
        alphabet = string.ascii_letters + string.digits
        password = "".join(secrets.choice(alphabet) for _ in range(8))  # SMPP allows 8
        defaults = self.config.accounts
        await store.add_account(Account(
            system_id=DEMO_SYSTEM_ID, password_hash=hash_password(password),
            balance=defaults.demo_balance, max_binds=defaults.max_binds,
            throughput=defaults.throughput, window=defaults.window))
        log.info("demo account {system_id!r} created", system_id=DEMO_SYSTEM_ID)
        return password

    def _print_demo_banner(self, password: str) -> None:
        port = self.ports[0].getHost().port  # the bound one, also when configured as 0
        http_port = self.http_port.getHost().port
        token_note = ("from [admin] token" if self.config.admin.token
                      else f"kept in {self.config.data_dir / ADMIN_TOKEN_FILE}")
        rule = "=" * 64
        print(f"\n{rule}\n smsgw demo account created\n"
              f"   system_id: {DEMO_SYSTEM_ID}\n   password:  {password}\n"
              f"   balance:   {self.config.accounts.demo_balance}\n"
              f"   SMPP:      {self.config.smpp.host}:{port}\n"
              f"   HTTP API:  http://{self.config.http.host}:{http_port}/api/v1\n"
              f"   admin API: http://{self.config.http.host}:{http_port}/admin/v1\n"
              f"   admin token: {self.admin_token}\n"
              f"                ({token_note})\n{rule}", file=self.out, flush=True)

    async def _watch_settings(self) -> None:
        """Apply admin changes (CLI, other nodes) to live sessions without a restart."""
        try:
            version = await self.store.settings_version()
        except Exception:
            log.failure("reading the settings version failed", event="store.error")
            return
        await self._write_health()
        if version == self._settings_version:
            return
        first = self._settings_version < 0
        self._settings_version = version
        if first:
            return
        await self._apply_settings()
        bound = {p.account for p in self.smsc.connections if p.account}
        fresh = {system_id: await self.store.get_account(system_id) for system_id in bound}
        self.smsc.refresh_accounts(fresh)

    async def _apply_settings(self) -> None:
        """Admin changes reach the live gateway: reload the price tables, the accounts'
        delivery settings and the numbers, forget cached accounts and keys, make the
        upstream connectors and routes match the store."""
        if self.http_auth is not None:
            self.http_auth.forget()
        try:
            self.pricing.load(await self.store.list_prices())
            self.parts.subscriptions.load(await self.store.list_accounts())
            self.parts.directory.load(await self.store.list_numbers())
        except Exception:
            log.failure("reloading prices, accounts and numbers failed")
        try:
            await self._load_upstream()
        except Exception:
            log.failure("reloading upstream connectors and routes failed")

    async def _load_upstream(self) -> None:
        """Make the live connectors and the route table match the store."""
        await self.registry.apply(await self.store.list_connectors(),
                                  await self.store.list_routes())

    async def _write_health(self) -> None:
        """Snapshot each upstream connector's health into the store (`smsgw connector
        list` reads it); nothing is written while there are none."""
        health = self.registry.health() if self.registry is not None else {}
        if health:
            try:
                await self.store.write_health(health, self.reactor.seconds())
            except Exception:
                log.failure("writing connector health failed", event="store.error")

    def stopService(self) -> Deferred:
        super().stopService()
        return ensureDeferred(self._stop())

    async def _stop(self) -> None:
        if self.ready is not None and not self.ready.called:
            await self.ready
        for loop in (self._watcher, self._sweeper):
            if loop is not None and loop.running:
                loop.stop()
        for port in self.ports:
            await port.stopListening()
        self.ports.clear()
        if self.ops is not None:
            await self.ops.stop()
        if self.smsc is not None:
            await self.smsc.unbind_all(UNBIND_TIMEOUT)
        if self.registry is not None:
            await self.registry.stop()
        if self.router is not None:
            self.router.stop()
            self.simulator.stop()
            self.parts.inbound.stop()
            if self.parts.webhooks is not None:
                await self.parts.webhooks.stop()
            self.delivery.stop()
            await self.router.drain()
        if self.store is not None:
            await self.store.close()


@dataclass(frozen=True)
class Components:
    simulator: SimulatorConnector
    router: Router
    delivery: Delivery
    smsc: SmscServer
    pricing: Pricing
    binds: BindRegistry
    registry: ConnectorRegistry
    subscriptions: Subscriptions
    directory: NumberDirectory
    inbound: InboundRouter
    webhooks: WebhookSender | None


def webhook_client(reactor, per_host: int) -> HTTPClient:
    """The HTTP client webhooks go out through: persistent connections, as many per host
    as requests may be in flight (a receiver taking them all keeps them all open)."""
    pool = HTTPConnectionPool(reactor, persistent=True)
    pool.maxPersistentPerHost = per_host
    pool.cachedConnectionTimeout = 60
    pool._factory = _QuietClientFactory  # not a log line per connection
    return HTTPClient(Agent(reactor, pool=pool))


class _QuietClientFactory(_HTTP11ClientFactory):
    noisy = False


def wire(
    config: Config, store: Store, id_floor: str | None, clock: IReactorTime,
    threads: IReactorThreads, webhook_http: HTTPClient | None = None,
    metrics: GatewayMetrics | None = None,
) -> Components:
    """Build the gateway's objects around `store`; `clock` drives every timer and
    `threads` runs password hashing off the reactor thread. Without `webhook_http`
    webhook items stay in the store's outbox (tests that do not look at webhooks).
    `metrics` (None: off) is handed to the parts that count."""
    binds = BindRegistry()
    subscriptions = Subscriptions()
    delivered = metrics.item_delivered if metrics is not None else None
    webhooks = None if webhook_http is None else WebhookSender(
        store=store, http=webhook_http, clock=clock, config=config.webhooks,
        secret_for=subscriptions.secret, delivered=delivered)
    delivery = Delivery(store, binds, clock, config.receipts, webhooks=webhooks,
                        delivered=delivered)
    simulator = SimulatorConnector(config.simulator, None, clock)
    pricing = Pricing(price_per_part=config.price_per_part)
    ids = MessageIdGenerator(config.node_id, clock.seconds, id_floor)
    directory = NumberDirectory()
    inbound = InboundRouter(store=store, directory=directory, subscriptions=subscriptions,
                            delivery=delivery, ids=ids, clock=clock, config=config.inbound)
    simulator.set_inbound(inbound)
    router_box: list[Router] = []

    def make_connector(settings: ConnectorSettings) -> SmppConnector:
        # `clock` is the reactor in the service (it also opens the upstream connections)
        return SmppConnector(settings, sink=router_box[0], store=store, inbound=inbound,
                             clock=clock, reactor=clock)

    registry = ConnectorRegistry(simulator, make_connector)
    upstream = store if hasattr(store, "upstream_records") else None
    router = Router(
        store=store, ids=ids, pricing=pricing, connector=simulator, delivery=delivery,
        subscriptions=subscriptions, clock=clock, routing=registry, upstream=upstream,
        on_final=metrics.message_final if metrics is not None else None)
    router_box.append(router)
    registry.redispatch = router.redispatch
    simulator.set_sink(router)
    smpp = config.smpp
    smsc = SmscServer(
        settings=SmscSettings(
            session=smsc_session_config(
                bind_timeout=smpp.bind_timeout,
                response_timeout=smpp.response_timeout,
                enquire_link_interval=smpp.enquire_link_interval,
                window=config.accounts.window,
                max_pdu_size=smpp.max_pdu_size,
                system_id=smpp.system_id,
            ),
            max_pending_submits=smpp.max_pending_submits,
        ),
        clock=clock,
        authenticator=Authenticator(store, binds, clock, thread_runner(threads)),
        router=router, binds=binds, delivery=delivery, metrics=metrics,
    )
    return Components(simulator=simulator, router=router, delivery=delivery, smsc=smsc,
                      pricing=pricing, binds=binds, registry=registry,
                      subscriptions=subscriptions, directory=directory, inbound=inbound,
                      webhooks=webhooks)


def admin_token(data_dir: Path) -> str:
    """The admin API's token from <data_dir>/admin-token, created (mode 0600) on first use."""
    path = data_dir / ADMIN_TOKEN_FILE
    try:
        token = path.read_text().strip()
        if token:
            return token
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)
    return token


def tls_context(cert_path: Path, key_path: Path) -> ssl.CertificateOptions:
    """TLS 1.2+ server context from PEM files (the cert file may carry the chain)."""
    pem = cert_path.read_bytes()
    blocks = [b + b"-----END CERTIFICATE-----\n"
              for b in pem.split(b"-----END CERTIFICATE-----") if b"BEGIN CERTIFICATE" in b]
    leaf = ssl.PrivateCertificate.loadPEM(blocks[0] + key_path.read_bytes())
    chain = [ssl.Certificate.loadPEM(b).original for b in blocks[1:]]
    return ssl.CertificateOptions(
        privateKey=leaf.privateKey.original,
        certificate=leaf.original,
        extraCertChain=chain,
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
    )
