"""The ``switchboard`` command line: serve and check-config."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from switchboard import __version__
from switchboard.app import load_and_check, serve

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
            "state folder) and answers OPTIONS; calls are not handled yet (INVITE gets 501)."
        ),
    )
    serve_cmd.add_argument("--config-dir", type=Path, required=True, help="Asterisk config folder")
    serve_cmd.add_argument(
        "--state-dir", type=Path, required=True, help="folder for everything the server writes"
    )
    serve_cmd.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    check = commands.add_parser(
        "check-config",
        help="check a config folder and report problems as file:line",
        description=(
            "Read pjsip.conf, extensions.conf, voicemail.conf and rtp.conf from a folder and "
            "print one line per finding: 'file:line: error|warning: message (hint)'. "
            "Exit status 1 if there is any error, 0 if only warnings or nothing."
        ),
    )
    check.add_argument("--config-dir", type=Path, required=True, help="Asterisk config folder")
    check.add_argument("--format", choices=("text", "json"), default="text")
    return parser


def _check_config(config_dir: Path, output: str) -> int:
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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check-config":
        return _check_config(args.config_dir, args.format)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.config_dir.is_dir():
        log.error("config folder %s does not exist", args.config_dir)
        return 1
    return serve(args.config_dir, args.state_dir)


if __name__ == "__main__":
    sys.exit(main())
