"""The composition root: config folder -> checked config -> store, services, SIP stack."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import ssl
import time
from collections.abc import Callable
from pathlib import Path

from switchboard import native
from switchboard.api.commands import Commands, ServerView
from switchboard.api.control import ControlServer
from switchboard.api.service import ApiContext, ApiService
from switchboard.apps import playback, registry
from switchboard.config.diff import REMOVED, Change, ReloadReport, diff_configs, needs_restart
from switchboard.config.loader import Config
from switchboard.config.pjsip import Transport
from switchboard.configcheck import LoadedConfig, load_and_check
from switchboard.core.cdr import CallRecord
from switchboard.core.contact import Contact
from switchboard.core.events import Event, EventBus, event_line
from switchboard.limits import raise_open_file_limit
from switchboard.media.portpool import PortPool
from switchboard.services.acl import Acls
from switchboard.services.authenticate import EndpointAuthenticator
from switchboard.services.calls.engine import CallEngine
from switchboard.services.calls.events import CallQuality
from switchboard.services.calls.pbx import run_channel
from switchboard.services.location import ContactRefreshed, LocationService
from switchboard.services.mwi import MessageWaiting
from switchboard.services.qualify import Qualifier
from switchboard.services.registrar import Registrar
from switchboard.services.requests import RequestRouter
from switchboard.services.security import Guard
from switchboard.services.voicemail.mailer import Mailer
from switchboard.services.voicemail.service import VoicemailService
from switchboard.services.voicemail.spool import Spool
from switchboard.sip.peer import Peer
from switchboard.sip.trace import trace_entry
from switchboard.sip.transaction.layer import TransactionLayer
from switchboard.sip.transaction.timers import TimerValues
from switchboard.sounds import default_sounds_dirs
from switchboard.store.cdr import SqlCdrStore
from switchboard.store.contacts import SqlContactStore, sqlite_engine
from switchboard.store.tokens import SqlTokenStore
from switchboard.store.writer import writer_executor
from switchboard.transport import entropy
from switchboard.transport.stack import SipStack
from switchboard.transport.tls import certificate_digest, reload_certificate, server_context

log = logging.getLogger(__name__)

HOUSEKEEPING_INTERVAL = 0.25
"""Seconds between contact expiry sweeps and write-behind flushes to the store."""

COLLECTOR_THRESHOLDS = (50_000, 20, 100)
"""Cyclic garbage collector thresholds while serving (CPython's default is 700, 10, 10)."""


def tune_collector() -> None:
    """Make the cyclic garbage collector cheap for a server that allocates per message.

    Every SIP message allocates dozens of containers, so the default thresholds ran a
    young collection every few messages: 15 % of the CPU under REGISTER load. Objects
    made at start-up (configuration, restored contacts) are frozen out of the
    collector's sight. A young collection walks the young objects still alive, and
    CPython counts the objects freed since the last pass against its threshold, so
    under call load a pass at 5,000 found up to 68,000 objects alive (the messages and
    SDP of the calls in progress) and took 2-60 ms, 8 to 10 times a second: 600-760 ms
    of collector time in a 10 s run at 500 calls/s. The live calls bound a pass, not
    the threshold: at 50,000 the same runs made 7 to 9 passes, 230-560 ms in all,
    with pauses of the same order (45-115 ms), and REGISTER load at 4,000/s 7 passes
    of at most 9 ms (52 ms in all, against 72 passes and 102 ms). The code makes no
    reference cycles of its own (the end-to-end tests using ``watch_cycles`` check
    it), so passes are only there for libraries' cycles; 20 young passes per older
    one keep the older passes about as frequent as before.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)


events_log = logging.getLogger("switchboard.events")
trace_log = logging.getLogger("switchboard.sip.trace")


def _log_event(event: Event) -> None:
    """Every domain event as one JSON line (keys sorted).

    Refreshes are the bulk of a registrar's traffic and change nothing, and every call in
    progress reports its quality every few seconds, so those two are logged at debug
    level; building the line is skipped when nobody would see it.
    """
    level = logging.DEBUG if isinstance(event, ContactRefreshed | CallQuality) else logging.INFO
    if events_log.isEnabledFor(level):
        _write_event(level, event_line(event))


_write_event: Callable[[int, str], None] = events_log.log
"""How an event line is logged: through the logging module unless the command line
installed a direct writer for its handler (:func:`write_events_with`)."""


def write_events_with(writer: Callable[[int, str], None]) -> None:
    """Log event lines with ``writer(level, line)`` (the caller has checked the level)."""
    global _write_event  # noqa: PLW0603 (set once, at start-up, by the command line)
    _write_event = writer


def _secret(state_dir: Path) -> bytes:
    """The server's nonce key: made once, kept (mode 600) so nonces survive a restart."""
    path = state_dir / "secret.key"
    if path.exists():
        return path.read_bytes()
    secret = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
    return secret


class Server:
    """Everything ``serve`` runs, wired once: bus, location, services, SIP stack."""

    def __init__(self, config: Config, config_dir: Path, state_dir: Path) -> None:
        self.config = config
        self.config_dir = config_dir
        self.state_dir = state_dir
        self.bus = EventBus()
        self.bus.subscribe(_log_event)
        database = sqlite_engine(str(state_dir / "switchboard.db"))
        self.store = SqlContactStore(database)
        self.cdr_store = SqlCdrStore(database)
        self.tokens = SqlTokenStore(database)
        self.api: ApiService | None = None
        self.location = LocationService(self.bus)
        self.executor = writer_executor()
        self.stack: SipStack | None = None
        self.qualifier: Qualifier | None = None
        self.mwi: MessageWaiting | None = None
        self.control: ControlServer | None = None
        self.guard: Guard | None = None
        self.calls: CallEngine | None = None
        self.voicemail: VoicemailService | None = None
        self.mailer: Mailer | None = None
        self._records: list[CallRecord] = []
        self.authenticator: EndpointAuthenticator | None = None
        self.registrar: Registrar | None = None
        self.router: RequestRouter | None = None
        self.view: ServerView | None = None
        self._reloading = asyncio.Lock()
        self._certificates: dict[str, str] = {}
        """SHA-256 of each TLS transport's certificate and key files, as loaded."""
        self.stopping = asyncio.Event()
        self.started = time.time()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        restored = self.location.restore(self.store.load(), time.time())
        log.info("restored %d registered contacts", restored)
        pjsip = self.config.pjsip
        authenticator = self.authenticator = EndpointAuthenticator(
            pjsip, self.bus, _secret(self.state_dir), salt=lambda: entropy.pool.take(8)
        )
        registrar = self.registrar = Registrar(pjsip, self.location, self.bus)
        timers = TimerValues(T1=pjsip.system.timer_t1 / 1000) if pjsip.system else None
        layer = TransactionLayer(lambda: entropy.pool.hex(8), timers)
        stack = self.stack = SipStack(layer, loop)
        router = self.router = RequestRouter(authenticator, registrar, stack.send_response)
        stack.user = router
        trusted = tuple(net for t in pjsip.transports.values() for net in t.local_net)
        guard = self.guard = Guard(self.config.security, self.bus, loop.time, trusted)
        stack.admits = guard.admits
        stack.max_connections = self.config.security.max_connections
        stack.max_transactions = self.config.security.max_transactions
        stack.trusted = guard.is_trusted
        stack.offence = guard.malformed
        stack.prefilter = router.prefilter
        router.guard = guard
        router.acls = Acls(pjsip)
        playback.configure(default_sounds_dirs(self.config_dir, Path(self.config.media.sounds_dir)))
        calls = self.calls = CallEngine(
            self.config,
            self.bus,
            authenticator=authenticator,
            location=self.location,
            stack=stack,
            pool=PortPool.from_config(self.config.rtp),
            applications=registry(),
            guard=guard,
        )
        calls.runner = run_channel
        spool = Spool(self.state_dir / "voicemail", self.config.voicemail.general.format)
        cleaned = await loop.run_in_executor(self.executor, spool.cleanup)
        if cleaned:
            log.info("voicemail: removed %d files left by an interrupted recording", cleaned)
        calls.voicemail = self.voicemail = VoicemailService(
            self.config.voicemail,
            spool,
            self.bus,
            recording_cap=float(self.config.voicemail_limits.recording_cap),
        )
        self.mailer = Mailer(
            self.state_dir / "voicemail" / "outbox",
            self.config.smtp,
            self.config.voicemail,
            self.bus,
        )
        await self.mailer.start()
        self.voicemail.notifier = self.mailer
        calls.on_call_ended = self._save_record
        router.calls = calls
        for transport in pjsip.transports.values():
            await self._listen(stack, transport)
        router.qualifier = self.qualifier = Qualifier(
            pjsip, self.location, self.bus, stack.send_request, stack.local_address
        )
        router.mwi = self.mwi = MessageWaiting(
            pjsip,
            self.location,
            self.bus,
            stack.send_request,
            stack.local_address,
            counts=self.voicemail.counts,
            defer=stack.after_sending,
        )
        self.voicemail.on_change = self.mwi.mailbox_changed
        self.mwi.notify_all()
        view = self.view = ServerView(
            self.config,
            self.location,
            self.qualifier,
            guard,
            self.started,
            lambda: [(li.name, li.protocol, li.host, li.port) for li in stack.listeners],
            self.stopping.set,
            self.cdr_store.recent,
            calls.show_channels,
            calls.request_hangup,
            reload=self.reload,
            sip_trace=self.set_sip_trace,
            live_channels=lambda: list(calls.channels.values()),
        )
        self.control = ControlServer(Commands(view), self.state_dir)
        await self.control.start()
        await self._start_api(view)
        self._tasks.append(asyncio.create_task(self._housekeeping()))

    async def _start_api(self, view: ServerView) -> None:
        """Webhooks, and the REST API, live events and /metrics when http.conf enables them."""
        context = ApiContext(
            view,
            self.tokens,
            self.cdr_store,
            calls=self.calls,
            voicemail=self.voicemail,
            reload=self.reload,
        )
        self.api = ApiService(context, self.config, self.bus)
        await self.api.start()

    def _save_record(self, record: CallRecord) -> None:
        """Queue a CDR; housekeeping writes the queue in one transaction on the store's
        thread (one SQL round per quarter second, not one thread hop per call)."""
        self._records.append(record)
        if self.api is not None:
            self.api.record(record)

    async def _listen(self, stack: SipStack, transport: Transport) -> None:
        host, port = transport.bind.host, transport.port
        if transport.protocol == "udp":
            listener = await stack.listen_udp(transport.name, host, port)
        elif transport.protocol == "tcp":
            listener = await stack.listen_stream(transport.name, "tcp", host, port)
        elif transport.protocol == "tls":
            context = server_context(transport, self.config_dir)
            listener = await stack.listen_stream(transport.name, "tls", host, port, context)
            self._certificates[transport.name] = certificate_digest(transport, self.config_dir)
        else:
            log.warning("transport %s: %s is not supported yet", transport.name, transport.protocol)
            return
        log.info(
            "listening on %s %s:%d (%s)",
            listener.protocol,
            f"[{listener.host}]" if ":" in listener.host else listener.host,
            listener.port,
            listener.name,
        )

    # -- reload -------------------------------------------------------------------------

    async def reload(self) -> ReloadReport:
        """Re-read the config folder (on a thread: the loop keeps serving) and apply it
        unless it has errors. Calls and registrations are kept; listening sockets are not
        remade (the report says what needs a restart) but renewed TLS certificates are
        loaded for new connections."""
        async with self._reloading:
            loop = asyncio.get_running_loop()
            loaded, changes = await loop.run_in_executor(None, self._load_and_compare)
            findings = [finding.format() for finding in loaded.diagnostics.sorted()]
            if loaded.diagnostics.has_errors:
                log.error(
                    "reload: %s has errors; the running configuration is kept", self.config_dir
                )
                for line in findings:
                    log.error("reload: %s", line)
                return ReloadReport(False, [], findings, [])
            new = loaded.config
            not_applied = [why for change in changes if (why := needs_restart(change))]
            restarting = {c.name for c in changes if c.kind == "transport" and needs_restart(c)}
            renewed, failed = self._renewed_certificates(new, restarting)
            if failed:
                for line in failed:
                    log.error("reload: %s; the running configuration is kept", line)
                return ReloadReport(False, [], [*findings, *failed], [])
            self._apply(new)
            lines = [str(change) for change in changes]
            for transport, digest in renewed:
                try:
                    reload_certificate(
                        self._tls_context(transport.name), transport, self.config_dir
                    )
                except (OSError, ssl.SSLError) as exc:  # the files changed again meanwhile
                    not_applied.append(
                        f"transport {transport.name}: certificate not reloaded: {exc}"
                    )
                    continue
                self._certificates[transport.name] = digest
                lines.append(f"transport {transport.name}: certificate reloaded")
            if self.mwi is not None:
                self.mwi.endpoints_changed(_lamps_changed(changes, new))
            if self.api is not None and any(c.kind == "webhook" for c in changes):
                await self.api.webhooks.reconfigure(new.webhooks)
            removed = {c.name for c in changes if c.kind == "aor" and c.action == REMOVED}
            dropped = self._drop_contacts(removed)
            if dropped:
                lines.append(f"{dropped} registration(s) of removed aors dropped")
            log.info("reloaded %s: %d change(s)", self.config_dir, len(lines))
            for line in lines:
                log.info("reload: %s", line)
            for line in not_applied:
                log.warning("reload: not applied: %s", line)
            return ReloadReport(True, lines, findings, not_applied)

    def _load_and_compare(self) -> tuple[LoadedConfig, list[Change]]:
        """Read and check the folder, and compare it with the running configuration (a
        large site's comparison takes as long as its loading: both stay off the loop)."""
        loaded = load_and_check(self.config_dir)
        if loaded.diagnostics.has_errors:
            return loaded, []
        return loaded, diff_configs(self.config, loaded.config)

    def _tls_context(self, name: str) -> ssl.SSLContext:
        assert self.stack is not None
        return self.stack.tls_contexts[name]

    def _renewed_certificates(
        self, new: Config, restarting: set[str]
    ) -> tuple[list[tuple[Transport, str]], list[str]]:
        """The TLS transports listening now whose certificate or key files changed (name
        or contents), each checked in a fresh context, and a ``file:line: error:`` line
        for each whose new files do not load."""
        renewed, failed = [], []
        for transport in new.pjsip.transports.values():
            name = transport.name
            if transport.protocol != "tls" or name in restarting or name not in self._certificates:
                continue
            try:
                digest = certificate_digest(transport, self.config_dir)
                if digest != self._certificates[name]:
                    server_context(transport, self.config_dir)
                    renewed.append((transport, digest))
            except (OSError, ssl.SSLError) as exc:
                where = transport.where("cert_file")
                failed.append(f"{where}: error: transport {name}: certificate not loaded: {exc}")
        return renewed, failed

    def _apply(self, new: Config) -> None:
        """Point every service at the new configuration; what they hold per call, per
        registration or per subscription stays."""
        pjsip = new.pjsip
        if self.authenticator is not None:
            self.authenticator.reconfigure(pjsip)
        if self.registrar is not None:
            self.registrar.pjsip = pjsip
        if self.router is not None:
            self.router.acls = Acls(pjsip)
        if self.guard is not None:
            trusted = tuple(net for t in pjsip.transports.values() for net in t.local_net)
            self.guard.reconfigure(new.security, trusted)
        if self.stack is not None:
            self.stack.max_connections = new.security.max_connections
            self.stack.max_transactions = new.security.max_transactions
        if self.qualifier is not None:
            self.qualifier.pjsip = pjsip
        if self.mwi is not None:
            self.mwi.pjsip = pjsip
        if self.calls is not None:
            self.calls.reconfigure(new)
        if self.voicemail is not None:
            self.voicemail.config = new.voicemail
            self.voicemail.general = new.voicemail.general
            self.voicemail.recording_cap = float(new.voicemail_limits.recording_cap)
        playback.configure(default_sounds_dirs(self.config_dir, Path(new.media.sounds_dir)))
        if self.mailer is not None:
            self.mailer.reconfigure(new.smtp, new.voicemail)
        if self.view is not None:
            self.view.config = new
        self.config = new

    def _drop_contacts(self, aors: set[str]) -> int:
        """Forget the registrations of AORs the configuration no longer has."""
        gone = [c for c in self.location.all_contacts() if c.aor in aors]
        for contact in gone:
            self.location.remove(contact, "aor removed by a reload")
        return len(gone)

    def watch_reload_signal(self) -> None:
        """SIGHUP reloads the configuration, as ``core reload`` does (``kill -HUP``)."""
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_reload_signal)

    def _on_reload_signal(self) -> None:
        log.info("received SIGHUP, reloading %s", self.config_dir)
        self._tasks = [task for task in self._tasks if not task.done()]
        self._tasks.append(asyncio.create_task(self._reload_quietly()))

    async def _reload_quietly(self) -> None:
        """A reload whose report only goes to the log (it logs every line itself)."""
        await self.reload()

    # -- SIP trace ----------------------------------------------------------------------

    def set_sip_trace(self, on: bool) -> None:
        """``pjsip set logger on|off``: log every SIP message in and out, whole."""
        if self.stack is not None:
            self.stack.trace = _trace if on else None
        log.info("SIP trace %s", "on" if on else "off")

    async def _housekeeping(self) -> None:
        """Expire contacts, tick qualify and MWI, and write changes behind, a few times a
        second. Changes are taken on the loop's thread; only the SQL runs on the store's
        thread, one batch at a time. A batch is not awaited: that thread runs at idle
        priority, so under full load a batch can take seconds, and expiry, qualify and
        MWI must not wait for it. Changes made meanwhile stay in the location service's
        queue (last state per contact) for the next batch. A stop cancels this task but
        never a batch already handed to the thread: it waits for the thread before its
        own final flush, so an older batch can never land after a newer one."""
        loop = asyncio.get_running_loop()
        writing: asyncio.Future[None] | None = None
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL)
            self.location.expire(time.time())
            if self.qualifier is not None:
                self.qualifier.tick(time.monotonic())
            if self.mwi is not None:
                self.mwi.tick()
            if writing is None or writing.done():
                writing = self._write_behind(loop)

    def _write_behind(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None] | None:
        """Hand the changes since the last batch to the store's thread, if any."""
        upserts, deletes = self.location.take_changes()
        records, self._records = self._records, []
        if not (upserts or deletes or records):
            return None
        batch = loop.run_in_executor(self.executor, self._save, upserts, deletes, records)
        batch.add_done_callback(_report_failed_write)
        return batch

    def _save(
        self, upserts: list[Contact], deletes: list[tuple[str, str]], records: list[CallRecord]
    ) -> None:
        """Write one batch: contacts, then call records."""
        if upserts or deletes:
            self.store.save(upserts, deletes)
        if records:
            self.cdr_store.save(records)

    def _flush(self) -> None:
        """Write what is left; only once the store thread has finished, so that an older
        batch can never land after a newer one."""
        upserts, deletes = self.location.take_changes()
        records, self._records = self._records, []
        self._save(upserts, deletes, records)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.control is not None:
            await self.control.close()
        if self.api is not None:
            await self.api.close()
        if self.calls is not None:
            await self.calls.close()
            self.calls.pool.close()
        if self.voicemail is not None:
            self.voicemail.close()
        if self.mailer is not None:
            await self.mailer.close()
        if self.stack is not None:
            await self.stack.close()
        self.executor.shutdown(wait=True)
        self.location.expire(time.time())
        self._flush()


def _report_failed_write(batch: asyncio.Future[None]) -> None:
    """Log a batch the store refused (a full disk, a locked database): its changes are
    lost from the database, not from memory, and the next batches still go."""
    if not batch.cancelled() and (error := batch.exception()) is not None:
        log.error("writing to the database failed: %s", error, exc_info=error)


def _lamps_changed(changes: list[Change], new: Config) -> list[str]:
    """The endpoints whose phones watch other mailboxes after a reload: their own
    ``mailboxes=`` or their AORs' changed."""
    aors = {c.name for c in changes if c.kind == "aor" and "mailboxes" in c.details}
    names = {c.name for c in changes if c.kind == "endpoint" and "mailboxes" in c.details}
    for endpoint in new.pjsip.endpoints.values():
        if aors.intersection(endpoint.aors):
            names.add(endpoint.name)
    return sorted(names)


def _trace(outgoing: bool, data: bytes, peer: Peer) -> None:
    host = f"[{peer.host}]" if ":" in peer.host else peer.host
    trace_log.info(
        "%s", trace_entry(outgoing, data, f"{peer.transport.upper()}:{host}:{peer.port}")
    )


async def _wait_for_stop(stop: asyncio.Event) -> int:
    """Until SIGINT, SIGTERM or ``core stop`` from the control socket. Says "ready" once the
    handlers are in place, so a signal sent on reading it is never the default's to kill."""
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    log.info("ready; stop with SIGINT or SIGTERM, reload with SIGHUP")
    await stop.wait()
    why = signal.Signals(received[0]).name if received else "a control command"
    log.info("received %s, stopping", why)
    return 0


async def _run(config: Config, config_dir: Path, state_dir: Path) -> int:
    server = Server(config, config_dir, state_dir)
    try:
        await server.start()
    except (OSError, ssl.SSLError) as exc:
        log.error("cannot start: %s", exc)
        await server.stop()
        return 1
    tune_collector()
    server.watch_reload_signal()
    try:
        return await _wait_for_stop(server.stopping)
    finally:
        await server.stop()


def serve(config_dir: Path, state_dir: Path) -> int:
    """Check the config, prepare the state folder, run the PBX until signalled."""
    loaded = load_and_check(config_dir)
    for finding in loaded.diagnostics.sorted():
        (log.error if finding.severity.value == "error" else log.warning)("%s", finding.format())
    if loaded.diagnostics.has_errors:
        log.error("configuration in %s has errors; not starting", config_dir)
        return 1
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    config = loaded.config
    log.info(
        "configuration loaded: %d endpoints, %d aors, %d contexts, %d mailboxes",
        len(config.pjsip.endpoints),
        len(config.pjsip.aors),
        len(config.extensions.dialplan.contexts),
        len(config.voicemail.all_mailboxes()),
    )
    log.info("state folder: %s", state_dir.resolve())
    raise_open_file_limit(config.rtp.port_count)
    running, built = native.compiled()
    if built:
        log.info("SIP core: %d of %d modules compiled (mypyc)", running, built)
    else:
        log.info("SIP core: running from source (build it: python scripts/build_native.py)")
    try:
        import uvloop

        return uvloop.run(_run(config, config_dir, state_dir))
    except ImportError:
        return asyncio.run(_run(config, config_dir, state_dir))
