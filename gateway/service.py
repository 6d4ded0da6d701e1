"""The gateway as a Twisted service: wires the store, core, connectors and listeners
together, starts them in order, and takes them down in order (unbind, drain, leave the
cluster, close the store)."""
from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

from twisted.application.service import MultiService
from twisted.internet import ssl
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import SSL4ServerEndpoint, TCP4ServerEndpoint, TCP6ServerEndpoint
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import ILogObserver, Logger
from twisted.python.components import Componentized

from gateway.banner import DemoStart, demo_banner
from gateway.config import AuthConfig, Config, HttpConfig
from gateway.connectors.health_writer import HealthWriter
from gateway.connectors.registry import ConnectorRegistry
from gateway.connectors.simulator import SimulatorConnector
from gateway.connectors.smpp import SmppConnector
from gateway.core.accounts import Authenticator, PasswordLogins, thread_runner
from gateway.core.admission import AccountAdmissions
from gateway.core.bind_ledger import BindLedger
from gateway.core.binds import BindRegistry
from gateway.core.cluster import Membership
from gateway.core.connector_settings import ConnectorSettings
from gateway.core.credentials import CredentialChecker
from gateway.core.delivery import Delivery
from gateway.core.demo import DEMO_SYSTEM_ID, ensure_demo_account
from gateway.core.fanout import Subscriptions
from gateway.core.ids import MessageIdGenerator
from gateway.core.inbound import InboundRouter
from gateway.core.live_settings import LiveSettings
from gateway.core.login_limiter import AttemptPolicy, LoginLimiter
from gateway.core.numbers import NumberDirectory
from gateway.core.pricing import Pricing
from gateway.core.router import Router
from gateway.core.store_events import StoreEvents
from gateway.core.verifier import PasswordVerifier, keep_large_blocks_out_of_the_heap
from gateway.http.access_log import AccessLog
from gateway.http.admin import AccountDefaults, AdminApi
from gateway.http.admin_cdrs import CdrAdmin
from gateway.http.admin_mo import MessagingAdmin
from gateway.http.admin_upstream import UpstreamAdmin
from gateway.http.api import PublicApi
from gateway.http.auth import HttpAuthenticator
from gateway.http.console.app import Console
from gateway.http.connection_guard import ConnectionLimits
from gateway.http.site import make_site
from gateway.http.webhook_client import WebhookClient
from gateway.http.webhooks import HttpPoster, WebhookSender
from gateway.ops.collector import settle_the_heap
from gateway.ops.metrics import GatewayMetrics
from gateway.ops.runtime import OpsRuntime
from gateway.storage.batched import BatchedStore
from gateway.transport.smpp_server import SmscServer, SmscSettings, smsc_session_config

log = Logger()

SETTINGS_POLL_INTERVAL = 1.0
HEALTH_WRITE_INTERVAL = 2.0
IDEMPOTENCY_SWEEP_INTERVAL = 3600.0
ADMIN_TOKEN_FILE = "admin-token"
UNBIND_TIMEOUT = 5.0
# Connections the kernel may hold before we accept them (Twisted's default is 50): after a
# restart thousands of ESMEs connect at once, and an overflowing queue drops their SYNs,
# which they retry only after 1, 3, 7, 15... s. The kernel caps it at net.core.somaxconn.
LISTEN_BACKLOG = 4096


class GatewayService(MultiService):
    """The running gateway over `store` (opened by tap.py from the configuration)."""

    def __init__(self, config: Config, reactor, store: BatchedStore,
                 out: TextIO | None = None) -> None:
        super().__init__()
        self.config = config
        self.reactor = reactor
        self.store = store
        self.out = out or sys.stdout
        self.ready: Deferred | None = None
        self.parts: Components | None = None
        self.ports: list = []
        self.http_port = None
        self.http_auth: HttpAuthenticator | None = None
        self.admin_token = ""
        self._sweeper: LoopingCall | None = None
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
        config, store = self.config, self.store
        keep_large_blocks_out_of_the_heap()  # scrypt's 16 MB go back to the OS (verifier.py)
        if config.metrics.enabled:
            self.metrics = GatewayMetrics(accounts=config.metrics.accounts)
            store.observe(self.metrics.store_batch_done)
        verifier = PasswordVerifier(self.reactor, workers=config.auth.verifiers,
                                    queue_limit=config.auth.verifier_queue)
        parts = self.parts = wire(
            config, store, await store.last_message_id(), self.reactor, verifier,
            webhook_http=WebhookClient(self.reactor, config.webhooks.concurrency),
            on_fenced=self._fenced, metrics=self.metrics)
        self.ops = OpsRuntime(config=config.metrics, store=store, clock=self.reactor,
                              metrics=self.metrics)
        self.ops.attach(parts, self._named_ports, len(self._listener_names()))
        self.admin_token = config.admin.token or admin_token(config.data_dir)
        defaults = config.accounts
        demo_password = await ensure_demo_account(
            store, balance=defaults.demo_balance, max_binds=defaults.max_binds,
            throughput=defaults.throughput, window=defaults.window)
        await parts.membership.join()
        await parts.settings.load()  # before any message moves: routes, prices, accounts
        parts.router.start()  # this owner's scheduled messages: the earliest page
        parts.delivery.start()
        parts.inbound.start()
        if parts.webhooks is not None:
            parts.webhooks.start()
        self.ops.start()
        await self._listen()
        await self.ops.listen(self.reactor, http_limits(self.config.http),
                              http_access_log(self.config.http))
        store.watch(parts.events)
        parts.membership.start()  # adopts what an earlier run (or a dead node) left
        parts.settings.start()
        parts.health.start()
        self._sweeper = LoopingCall(self._sweep_idempotency)
        self._sweeper.clock = self.reactor
        self._sweeper.start(IDEMPOTENCY_SWEEP_INTERVAL, now=True)
        if demo_password:
            self._print_demo_banner(demo_password)
        settle_the_heap()  # startup's objects out of every later collection

    def _fenced(self) -> None:
        """Another node took this one's work over: stop before doing any of it twice."""
        if self.reactor.running:
            self.reactor.stop()

    def _sweep_idempotency(self) -> Deferred:
        before = self.reactor.seconds() - self.config.http.idempotency_ttl
        d = self.store.expire_idempotency(before)
        d.addErrback(lambda f: log.failure("forgetting old idempotency keys failed", f))
        return d

    async def _listen(self) -> None:
        smpp = self.config.smpp
        endpoint_cls = TCP6ServerEndpoint if ":" in smpp.host else TCP4ServerEndpoint
        plain = endpoint_cls(self.reactor, smpp.port, backlog=LISTEN_BACKLOG,
                             interface=smpp.host)
        self.ports.append(await plain.listen(self.parts.smsc))
        log.info("SMPP listening on {host}:{port}", host=smpp.host,
                 port=self.ports[-1].getHost().port, event="listening")
        if smpp.tls_enabled:
            context = tls_context(Path(smpp.tls_cert), Path(smpp.tls_key))
            secure = SSL4ServerEndpoint(self.reactor, smpp.tls_port, context,
                                        backlog=LISTEN_BACKLOG, interface=smpp.host)
            self.ports.append(await secure.listen(self.parts.smsc))
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
        config, store, parts = self.config, self.store, self.parts
        run = thread_runner(self.reactor)  # hashing the passwords admins set
        self.http_auth = parts.http_auth
        api = PublicApi(router=parts.router, store=store, clock=self.reactor,
                        authenticator=parts.http_auth, admissions=parts.admissions,
                        metrics=self.metrics)
        apply = parts.settings.apply
        sections = {}
        sections.update(UpstreamAdmin(store, health=parts.registry.health,
                                      apply=apply).sections())
        sections.update(MessagingAdmin(
            store=store, webhook_store=store, simulator=parts.simulator, clock=self.reactor,
            settings_changed=apply, sender=parts.webhooks).sections())
        sections.update(CdrAdmin(store=store, clock=self.reactor).sections())
        defaults = config.accounts
        admin_defaults = AccountDefaults(max_binds=defaults.max_binds,
                                         throughput=defaults.throughput, window=defaults.window)
        admin = AdminApi(
            token=self.admin_token, store=store, binds=parts.binds, clock=self.reactor,
            run_in_thread=run, sections=sections, settings_changed=apply,
            defaults=admin_defaults)
        smpp_port = config.smpp.port
        console = Console(
            token=self.admin_token, store=store, binds=parts.binds, registry=parts.registry,
            simulator=parts.simulator, sender=parts.webhooks, ops=self.ops,
            clock=self.reactor, run_in_thread=run, settings_changed=apply,
            smpp_port=lambda: self.ports[0].getHost().port if self.ports else smpp_port,
            defaults=admin_defaults)
        return make_site(api, admin, config.http.max_body_size, ops=self.ops.endpoints,
                         console=console, limits=http_limits(config.http),
                         reactor=self.reactor, admin_allow=config.admin.allow,
                         access_log=http_access_log(config.http))

    def _print_demo_banner(self, password: str) -> None:
        token_note = ("from [admin] token" if self.config.admin.token
                      else f"kept in {self.config.data_dir / ADMIN_TOKEN_FILE}")
        start = DemoStart(system_id=DEMO_SYSTEM_ID, password=password,
                          admin_token=self.admin_token, token_note=token_note,
                          smpp_port=self.ports[0].getHost().port,
                          http_port=self.http_port.getHost().port)
        print(demo_banner(self.config, start), file=self.out, flush=True)

    def stopService(self) -> Deferred:
        super().stopService()
        return ensureDeferred(self._stop())

    async def _stop(self) -> None:
        if self.ready is not None and not self.ready.called:
            await self.ready
        parts = self.parts
        if self._sweeper is not None and self._sweeper.running:
            self._sweeper.stop()
        for port in self.ports:
            await port.stopListening()
        self.ports.clear()
        if self.ops is not None:
            await self.ops.stop()
        if parts is not None:
            parts.settings.stop()
            parts.health.stop()
            parts.membership.stop()
            await parts.smsc.unbind_all(UNBIND_TIMEOUT)
            await parts.registry.stop()
            parts.router.stop()
            parts.simulator.stop()
            parts.inbound.stop()
            if parts.webhooks is not None:
                await parts.webhooks.stop()
            parts.delivery.stop()
            await parts.router.drain()
            parts.verifier.close()
            try:
                await parts.membership.leave()
            except Exception:
                log.failure("leaving the cluster failed (the others take over after the lease)")
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
    membership: Membership
    settings: LiveSettings
    health: HealthWriter
    http_auth: HttpAuthenticator
    admissions: AccountAdmissions
    logins: PasswordLogins  # shared by SMPP binds and HTTP Basic: one limiter, one cache
    verifier: Verifier
    events: StoreEvents


def http_access_log(http: HttpConfig) -> AccessLog:
    """The [http] section's choice of logged requests."""
    return AccessLog(mode=http.access_log, path=http.access_log_file)


def http_limits(http: HttpConfig) -> ConnectionLimits:
    """The [http] section's limits on slow and greedy clients."""
    return ConnectionLimits(
        header_timeout=http.header_timeout, body_timeout=http.body_timeout,
        idle_timeout=http.idle_timeout, max_connections=http.max_connections,
        max_connections_per_ip=http.max_connections_per_ip)


class Verifier(Protocol):
    """Checks passwords off the reactor thread (core/verifier.PasswordVerifier)."""

    def verify(self, password: str, encoded: str) -> Deferred[bool]: ...

    def close(self) -> None: ...


def wire(
    config: Config, store: BatchedStore, id_floor: str | None, clock: IReactorTime,
    verifier: Verifier, webhook_http: HttpPoster | None = None,
    on_fenced: Callable[[], None] | None = None, metrics: GatewayMetrics | None = None,
) -> Components:
    """Build the gateway's objects around `store`; `clock` drives every timer and
    `verifier` checks passwords (scrypt) off the reactor thread. Without `webhook_http`
    webhook items stay in the store's outbox (tests that do not look at webhooks).
    `metrics` (None: off) is handed to the parts that count."""
    binds = BindRegistry()
    subscriptions = Subscriptions()
    delivered = metrics.item_delivered if metrics is not None else None
    router_box: list[Router] = []
    membership = Membership(
        store=store, clock=clock, config=config.cluster, node_id=config.node_id,
        adopt=lambda messages: router_box[0].adopt(messages),
        on_fenced=on_fenced or (lambda: None))
    webhooks = None if webhook_http is None else WebhookSender(
        store=store, http=webhook_http, clock=clock, config=config.webhooks,
        secret_for=subscriptions.secret, owner=membership, delivered=delivered)
    delivery = Delivery(store, binds, clock, config.receipts, owner=membership,
                        webhooks=webhooks, delivered=delivered)
    simulator = SimulatorConnector(config.simulator, None, clock)
    pricing = Pricing(price_per_part=config.price_per_part)
    ids = MessageIdGenerator(config.node_id, clock.seconds, id_floor)
    directory = NumberDirectory()
    inbound = InboundRouter(store=store, directory=directory, subscriptions=subscriptions,
                            delivery=delivery, ids=ids, clock=clock, config=config.inbound)
    simulator.set_inbound(inbound)

    def make_connector(settings: ConnectorSettings) -> SmppConnector:
        # `clock` is the reactor in the service (it also opens the upstream connections)
        return SmppConnector(settings, sink=router_box[0], store=store, inbound=inbound,
                             clock=clock, reactor=clock)

    registry = ConnectorRegistry(simulator, make_connector)
    router = Router(
        store=store, ids=ids, pricing=pricing, connector=simulator, delivery=delivery,
        subscriptions=subscriptions, clock=clock, owner=membership, routing=registry,
        upstream=store, on_final=metrics.message_final if metrics is not None else None)
    router_box.append(router)
    registry.redispatch = router.redispatch
    simulator.set_sink(router)
    smpp = config.smpp
    logins = password_logins(config.auth, clock, verifier,
                             max(config.auth.remember, config.http.auth_cache))
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
        authenticator=Authenticator(store, binds, logins, remember=config.auth.remember),
        router=router, binds=binds, ledger=BindLedger(store, membership, clock),
        delivery=delivery, metrics=metrics,
    )
    http_auth = HttpAuthenticator(store, store, clock, logins, cache_ttl=config.http.auth_cache)
    settings = LiveSettings(
        store=store, clock=clock, poll_interval=SETTINGS_POLL_INTERVAL, pricing=pricing,
        subscriptions=subscriptions, directory=directory, connectors=registry, sessions=smsc,
        forget_credentials=http_auth.forget)
    return Components(
        simulator=simulator, router=router, delivery=delivery, smsc=smsc, pricing=pricing,
        binds=binds, registry=registry, subscriptions=subscriptions, directory=directory,
        inbound=inbound, webhooks=webhooks, membership=membership, settings=settings,
        health=HealthWriter(store, registry.health, clock, HEALTH_WRITE_INTERVAL),
        http_auth=http_auth,
        admissions=AccountAdmissions(clock, smpp.max_pending_submits), logins=logins,
        verifier=verifier, events=StoreEvents(store=store, owner=membership, delivery=delivery,
                           webhooks=webhooks, settings=settings))


def password_logins(auth: AuthConfig, clock: IReactorTime, verifier: Verifier,
                    remember_at_most: float) -> PasswordLogins:
    """The login path SMPP and HTTP share: one limiter, one cache of verified passwords."""
    policy = AttemptPolicy(
        free_attempts=auth.free_attempts, base_delay=auth.base_delay,
        max_delay=auth.max_delay, max_wait=auth.max_wait, forget_after=auth.forget_after)
    checker = CredentialChecker(verifier.verify, clock, ttl=remember_at_most)
    return PasswordLogins(LoginLimiter(clock, policy), checker)


def admin_token(data_dir: Path) -> str:
    """The admin API's token from <data_dir>/admin-token, created (mode 0600) on first use."""
    data_dir.mkdir(parents=True, exist_ok=True)
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
