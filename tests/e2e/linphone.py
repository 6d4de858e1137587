"""Run Linphone's console phone (Debian's linphone-cli, liblinphone 5.1) headless for TLS
tests: unlike baresip 1.0, it checks the server's certificate chain against ``root_ca``
and the host against the certificate's names.

What it needs, found by running it: a writable ``$HOME/.local/share/linphone`` (without
its database folder the core never starts), ``[net] auto_net_state_mon=0`` (else it waits
for a network interface to come up), and commands on stdin (``quit`` ends it). Its TLS is
mbedTLS 2, which matches the host against subjectAltName DNS names only: ``tls-cert``
writes an IP host as a DNS name too. The account is in ``linphonerc``; what happened is in
its log (``-d 4``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.e2e.server import poll_log

LINPHONEC = shutil.which("linphonec")


class Linphone:
    """One linphonec process with one account registering over TLS to 127.0.0.1:port."""

    def __init__(
        self, folder: Path, user: str, password: str, *, port: int, ca: Path, tls_port: int
    ) -> None:
        self.folder = folder
        (folder / ".local" / "share" / "linphone").mkdir(parents=True)
        self.config = folder / "linphonerc"
        self.config.write_text(
            "[sip]\nsip_port=-1\nsip_tcp_port=-1\n"
            f"sip_tls_port={tls_port}\nroot_ca={ca}\nverify_server_certs=1\nverify_server_cn=1\n"
            "default_proxy=0\n"
            f"[proxy_0]\nreg_proxy=<sip:127.0.0.1:{port};transport=tls>\n"
            f"reg_identity=sip:{user}@127.0.0.1\nreg_expires=600\nreg_sendregister=1\n"
            f"[auth_info_0]\nusername={user}\npasswd={password}\ndomain=127.0.0.1\n"
            "[net]\nauto_net_state_mon=0\n"
        )
        self.log_file = folder / "linphone.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Linphone:
        assert LINPHONEC is not None, "linphonec is not installed (apt-get install linphone-cli)"
        self.process = subprocess.Popen(
            [LINPHONEC, "-c", str(self.config), "-d", "4", "-l", str(self.log_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "HOME": str(self.folder)},
        )
        return self

    @property
    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def wait_for(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        """Poll the phone's log until ``pattern`` (a regex) appears; fail at the deadline."""
        match = poll_log(lambda: self.log, self.process, pattern, timeout, 0.05)
        if match is not None:
            return match
        raise AssertionError(f"{pattern!r} not in linphone's log:\n{self.log[-4000:]}")

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        assert process.stdin is not None
        try:
            process.stdin.write(b"quit\n")
            process.stdin.flush()
            process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()

    def __enter__(self) -> Linphone:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
