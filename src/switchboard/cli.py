"""The ``switchboard`` command line: serve, check-config, cli and tls-cert."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from switchboard import __version__

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchboard",
        description="An IP-PBX that reads Asterisk's configuration files unchanged.",
    )
    parser.add_argument("--version", action="version", version=f"switchboard {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve_cmd = commands.add_parser(
        "serve",
        help="run the PBX in the foreground",
        description=(
            "Run the PBX in the foreground, logging to stderr, until SIGINT or SIGTERM. "
            "It refuses to start on configuration errors. In this version it is a SIP "
            "registrar over UDP, TCP and TLS (digest authentication, bindings kept in the "
            "state folder), answers OPTIONS, and connects calls through extensions.conf: "
            "authenticated INVITEs run the dialplan (Answer, Dial, Playback, Echo, Wait, "
            "Ringing, Progress, Busy, Congestion, VoiceMail, VoiceMailMain and the "
            "built-ins); media is anchored in the relay or direct; blind and attended "
            "transfers; voicemail in Asterisk's spool layout with message lamps (MWI) and "
            "email. With http.conf enabled: the REST API, live events over WebSocket and "
            "Prometheus metrics; webhooks from switchboard.conf. Codecs: G.711, G.722 and Opus, "
            "transcoded between each other in the relay. Not yet: transcoding other codecs "
            "(GSM, G.729, iLBC, ... are relayed only between phones using the same one, and "
            "prompts and voicemail need G.711, G.722 or Opus), the 20 ms media-port graph of "
            "sources and sinks."
        ),
    )
    serve_cmd.add_argument("--config-dir", type=Path, required=True, help="Asterisk config folder")
    serve_cmd.add_argument(
        "--state-dir", type=Path, required=True, help="folder for everything the server writes"
    )
    serve_cmd.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    serve_cmd.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="text lines, or one JSON object per line (time, level, logger, message, and "
        "the event's fields for switchboard.events)",
    )

    check = commands.add_parser(
        "check-config",
        help="check a config folder and report problems as file:line",
        description=(
            "Read pjsip.conf, extensions.conf, voicemail.conf, rtp.conf, switchboard.conf and "
            "http.conf from a folder and "
            "print one line per finding: 'file:line: error|warning: message (hint)'. "
            "Exit status 1 if there is any error, 0 if only warnings or nothing."
        ),
    )
    check.add_argument("--config-dir", type=Path, required=True, help="Asterisk config folder")
    check.add_argument("--format", choices=("text", "json"), default="text")

    console = commands.add_parser(
        "cli",
        help="run console commands on a running server (like asterisk -rx)",
        description=(
            "Talk to the server running with this state folder over its control socket. "
            "With -x, run one command and exit (status 1 if it failed); without, an "
            "interactive prompt with history and tab completion. Commands: "
            "pjsip show endpoints|endpoint NAME|aors|auths|contacts|transports|registrations, "
            "pjsip set logger on|off, core show channels [verbose], core show version|uptime, "
            "core reload (also module reload), core stop gracefully, channel request hangup "
            "NAME|all, dialplan show [CONTEXT], voicemail show users, cdr show [N], "
            "security show bans, security unban ADDRESS, help."
        ),
    )
    console.add_argument("--state-dir", type=Path, required=True, help="the server's state folder")
    console.add_argument("-x", dest="command_line", help="the command to run")

    tokens = commands.add_parser(
        "api-token",
        help="create, list or revoke REST API tokens",
        description=(
            "Manage the tokens that open the REST API and the event WebSocket "
            "(Authorization: Bearer TOKEN). 'create NAME' prints a new token once: only its "
            "hash is kept, in the state folder's database. 'list' shows names and dates; "
            "'revoke NAME' deletes one (effective at once, also on a running server)."
        ),
    )
    tokens.add_argument("action", choices=("create", "list", "revoke"))
    tokens.add_argument("name", nargs="?", help="the token's name (create, revoke)")
    tokens.add_argument("--state-dir", type=Path, required=True, help="the server's state folder")

    cert = commands.add_parser(
        "tls-cert",
        help="make a CA and a TLS certificate (ast_tls_cert's flags and file names)",
        description=(
            "Make a certificate authority (ca.crt, ca.key, and ca.cer to import in phones) "
            "unless -c/-k name one, then a server or client certificate for HOST signed by "
            "it (NAME.crt, NAME.key, NAME.pem). HOST goes in subjectAltName; key files are "
            "mode 600; an existing CA in the folder is reused."
        ),
    )
    cert.add_argument("-C", dest="host", required=True, help="host name or IP address")
    cert.add_argument("-O", dest="organisation", required=True, help="organisation name")
    cert.add_argument("-d", dest="directory", type=Path, default=Path("keys"), help="output folder")
    cert.add_argument("-b", dest="bits", type=int, default=2048, help="RSA key size (>= 2048)")
    cert.add_argument("-m", dest="mode", choices=("server", "client"), default="server")
    cert.add_argument("-c", dest="ca_cert", type=Path, help="existing CA certificate")
    cert.add_argument("-k", dest="ca_key", type=Path, help="existing CA key")
    cert.add_argument("-o", dest="name", help="output file name (default asterisk or client)")
    cert.add_argument(
        "--ca-passphrase",
        action="store_true",
        help="ask for a pass-phrase protecting the CA key (or read SWITCHBOARD_CA_PASSPHRASE)",
    )
    return parser


def _tls_cert(args: argparse.Namespace) -> int:
    from switchboard.certificates import CertificateError, issue

    passphrase: bytes | None = None
    if args.ca_passphrase:
        text = os.environ.get("SWITCHBOARD_CA_PASSPHRASE") or getpass.getpass(
            "CA key pass-phrase: "
        )
        passphrase = text.encode()
    try:
        issued = issue(
            host=args.host,
            organisation=args.organisation,
            directory=args.directory,
            bits=args.bits,
            mode=args.mode,
            ca_cert_path=args.ca_cert,
            ca_key_path=args.ca_key,
            name=args.name,
            ca_passphrase=passphrase,
        )
    except (CertificateError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    state = "created" if issued.ca_created else "reused"
    print(f"CA {state}: {issued.ca_cert} (SHA-256 fingerprint {issued.ca_fingerprint})")
    print(f"certificate: {issued.cert} (serial {issued.serial:x})")
    print(f"key: {issued.key} (mode 600)")
    print(f"combined: {issued.pem}")
    print(f"valid until: {issued.not_after:%Y-%m-%d %H:%M} UTC")
    if args.mode == "server":
        print("\nIn pjsip.conf:\n[transport-tls]\ntype=transport\nprotocol=tls\nbind=0.0.0.0:5061")
        print(f"cert_file={issued.cert.resolve()}\npriv_key_file={issued.key.resolve()}")
    return 0


def _check_config(config_dir: Path, output: str) -> int:
    from switchboard.configcheck import load_and_check

    if not config_dir.is_dir():
        print(f"error: config folder {config_dir} does not exist", file=sys.stderr)
        return 1
    loaded = load_and_check(config_dir)
    findings = loaded.diagnostics.sorted()
    errors = sum(1 for d in findings if d.severity.value == "error")
    warnings = len(findings) - errors
    if output == "json":
        report = {
            "config_dir": str(config_dir),
            "errors": errors,
            "warnings": warnings,
            "findings": [d.as_dict() for d in findings],
        }
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        for finding in findings:
            print(finding.format())
        files = len(loaded.config.files)
        print(f"{errors} error(s), {warnings} warning(s) in {files} file(s)", file=sys.stderr)
    return 1 if errors else 0


def _console(state_dir: Path, command: str | None) -> int:
    from switchboard.api.control import send_command

    def one(line: str) -> bool:
        try:
            ok, output = send_command(state_dir, line)
        except OSError as exc:
            print(
                f"error: cannot reach the server in {state_dir}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            return False
        print(output)
        return ok

    if command is not None:
        return 0 if one(command) else 1
    import readline

    from switchboard.api.commands import completions

    words = completions(_endpoint_names(state_dir))

    def complete(text: str, state: int) -> str | None:
        line = readline.get_line_buffer()
        matches = [w[len(line) - len(text) :] for w in words if w.startswith(line)]
        return matches[state] if state < len(matches) else None

    history = Path.home() / ".switchboard_history"
    with contextlib.suppress(OSError):
        readline.read_history_file(history)
    readline.set_completer(complete)
    readline.set_completer_delims("")
    readline.parse_and_bind("tab: complete")
    try:
        while True:
            try:
                line = input("switchboard*CLI> ").strip()
            except EOFError:
                print()
                break
            if line in ("exit", "quit"):
                break
            if line:
                one(line)
    finally:
        readline.write_history_file(history)
    return 0


def _endpoint_names(state_dir: Path) -> list[str]:
    """The running server's endpoint names, for completing ``pjsip show endpoint``."""
    from switchboard.api.control import send_command

    try:
        ok, output = send_command(state_dir, "pjsip show endpoints", timeout=5)
    except OSError:
        return []
    rows = output.splitlines()[2:] if ok else []
    return [row.split()[0] for row in rows if row.strip() and "object(s) found" not in row]


_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
"""Attributes every log record has; anything else was passed with ``extra=``."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the fields
    given with ``extra=``, the exception if any; a domain event's fields under ``event``."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        if record.name == "switchboard.events" and message.startswith("{"):
            with contextlib.suppress(ValueError):
                entry["event"] = json.loads(message)
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER: MESSAGE``, with the local time's text made once a second, not
    once a record (a busy server logs several lines per call)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        return self.stamp(record.created, record.msecs)

    def stamp(self, created: float, msecs: float) -> str:
        """The time as ``formatTime`` writes it, from a record's ``created`` and ``msecs``."""
        second = int(created)
        if second != self._second:
            self._stamp = time.strftime(self.default_time_format, self.converter(created))
            self._second = second
        return f"{self._stamp},{int(msecs):03d}"

    @staticmethod
    def line(stamp: str, level: str, name: str, message: str) -> str:
        """One record's line from its parts (``stamp`` as :meth:`stamp` makes it)."""
        return f"{stamp} {level} {name}: {message}"

    def format(self, record: logging.LogRecord) -> str:
        """The line, built directly; a record with a traceback goes the standard way."""
        if record.exc_info or record.exc_text or record.stack_info:
            return super().format(record)
        record.message = record.getMessage()
        record.asctime = self.formatTime(record)
        return self.line(record.asctime, record.levelname, record.name, record.message)


class DirectLines:
    """Writes one logger's plain messages as ``handler`` would, without a log record.

    A busy PBX logs every domain event (five lines per call), and the logging module's
    way (a record, the logger and handler dispatch, all interpreted) cost more than the
    rest of the line. The caller checks the level first; this only writes, under the
    handler's lock so that lines from other threads stay whole. A write that fails goes
    the standard way, so logging reports it as it would have. Inside an event loop the
    stream is flushed once at the end of the loop's turn, one system call for the lines
    of a burst of calls; outside one, after each line.
    """

    def __init__(
        self,
        logger: logging.Logger,
        handler: logging.StreamHandler[TextIO],
        clock: Callable[[], float] = time.time,
    ) -> None:
        formatter = handler.formatter
        assert isinstance(formatter, TextFormatter)
        self.logger = logger
        self.handler = handler
        self.formatter = formatter
        self.clock = clock
        self._flush_due = False

    def __call__(self, level: int, message: str) -> None:
        created = self.clock()
        msecs = int((created - int(created)) * 1000)
        formatter = self.formatter
        line = formatter.line(
            formatter.stamp(created, msecs), logging.getLevelName(level), self.logger.name, message
        )
        handler = self.handler
        try:
            with handler.lock or contextlib.nullcontext():
                handler.stream.write(line + handler.terminator)
        except Exception:  # reported the standard way, just below
            self.logger.log(level, message)
            return
        if not self._flush_due:
            self._flush_soon()

    def _flush_soon(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop in this thread: now
            self.handler.flush()
            return
        self._flush_due = True
        loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        self.handler.flush()


def _lean_records() -> None:
    """Leave out of every log record what no formatter here prints: the caller's file and
    line (a walk up the stack per record), the thread, the process id (a ``getpid`` call
    per record) and the multiprocessing name (the logging module's documented switches)."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def _log_handler(log_format: str) -> logging.StreamHandler[TextIO]:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    return handler


def _api_token(action: str, name: str | None, state_dir: Path) -> int:
    """``api-token create|list|revoke``: the token store in the state folder's database."""
    from switchboard.store.contacts import sqlite_engine
    from switchboard.store.tokens import SqlTokenStore, TokenExistsError

    if action != "list" and not name:
        print(f"api-token {action}: a NAME is required", file=sys.stderr)
        return 2
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = SqlTokenStore(sqlite_engine(str(state_dir / "switchboard.db")))
    if action == "list":
        for info in store.list():
            created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.created))
            print(f"{info.name}  {created}")
        return 0
    assert name is not None
    if action == "revoke":
        if not store.revoke(name):
            print(f"no token named {name!r}", file=sys.stderr)
            return 1
        print(f"revoked {name}")
        return 0
    try:
        token = store.create(name)
    except TokenExistsError as error:
        print(error, file=sys.stderr)
        return 1
    print(token)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check-config":
        return _check_config(args.config_dir, args.format)
    if args.command == "tls-cert":
        return _tls_cert(args)
    if args.command == "cli":
        return _console(args.state_dir, args.command_line)
    if args.command == "api-token":
        return _api_token(args.action, args.name, args.state_dir)
    _lean_records()
    handler = _log_handler(args.log_format)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, handlers=[handler])
    if not args.config_dir.is_dir():
        log.error("config folder %s does not exist", args.config_dir)
        return 1
    from switchboard.app import events_log, serve, write_events_with

    if isinstance(handler.formatter, TextFormatter):
        write_events_with(DirectLines(events_log, handler))
    return serve(args.config_dir, args.state_dir)


if __name__ == "__main__":
    sys.exit(main())
