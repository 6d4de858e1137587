"""TLS server contexts from a pjsip ``type=transport`` with ``protocol=tls``: TLS 1.2 and
1.3 only, whatever ``method=`` asks, and client certificates when the transport wants them."""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

from switchboard.config.pjsip import Transport


def server_context(transport: Transport, config_dir: Path) -> ssl.SSLContext:
    """Build the context; files are relative to the config folder, as Asterisk's are to /."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = (
        ssl.TLSVersion.TLSv1_3 if transport.method == "tlsv1_3" else ssl.TLSVersion.TLSv1_2
    )
    context.load_cert_chain(
        _path(transport.cert_file, config_dir),
        _path(transport.priv_key_file, config_dir) if transport.priv_key_file else None,
        password=transport.password or None,
    )
    if transport.ca_list_file:
        context.load_verify_locations(cafile=_path(transport.ca_list_file, config_dir))
    if transport.ca_list_path:
        context.load_verify_locations(capath=_path(transport.ca_list_path, config_dir))
    if transport.require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
    elif transport.verify_client:
        context.verify_mode = ssl.CERT_OPTIONAL
    if transport.cipher:
        context.set_ciphers(":".join(transport.cipher))
    return context


def certificate_digest(transport: Transport, config_dir: Path) -> str:
    """SHA-256 over the certificate and key files' contents: whether a reload brings new
    ones (a renewed certificate keeps its file name)."""
    digest = hashlib.sha256()
    for name in (transport.cert_file, transport.priv_key_file):
        if name:
            digest.update(Path(_path(name, config_dir)).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def reload_certificate(context: ssl.SSLContext, transport: Transport, config_dir: Path) -> None:
    """Put the transport's certificate and key, as the files are now, in a listening
    server's context: new connections get them, open ones keep their session.

    The files are checked in a fresh context first, so a bad pair (raises ``ssl.SSLError``
    or ``OSError``) leaves the live context as it was.
    """
    server_context(transport, config_dir)
    context.load_cert_chain(
        _path(transport.cert_file, config_dir),
        _path(transport.priv_key_file, config_dir) if transport.priv_key_file else None,
        password=transport.password or None,
    )


def _path(name: str, config_dir: Path) -> str:
    path = Path(name)
    return str(path if path.is_absolute() else config_dir / path)
