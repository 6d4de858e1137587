"""TLS server contexts from a pjsip ``type=transport`` with ``protocol=tls``, matching
Mozilla's "intermediate" server profile (version 5.7) unless the transport says otherwise.

The profile: TLS 1.2 and 1.3 only; for TLS 1.2 only ECDHE key exchange with AES-GCM or
ChaCha20-Poly1305 (no CBC, no RSA key exchange, no SHA-1 MAC); ECDH groups X25519, P-256
and P-384; the client's cipher order, not the server's. ``method=tlsv1_2`` or ``tlsv1_3``
pins that one version, as pjproject does; older methods still get TLS 1.2 and 1.3 (and
``check-config`` warns). ``cipher=`` replaces the TLS 1.2 list; ``verify_client`` asks for
a client certificate and ``require_client_cert`` refuses the handshake without one.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import ssl
from pathlib import Path

from switchboard.config.pjsip import INTERMEDIATE_CIPHERS, Transport

log = logging.getLogger(__name__)

INTERMEDIATE_GROUPS = "X25519:P-256:P-384"
"""ECDH groups, in OpenSSL's list syntax (P-256 is prime256v1, P-384 secp384r1)."""

_VERSIONS = {
    "tlsv1_2": (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2),
    "tlsv1_3": (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3),
}
_SSL_CTRL_SET_GROUPS_LIST = 92
"""OpenSSL's ``SSL_CTX_set1_groups_list`` is this ``SSL_CTX_ctrl`` command (ssl.h)."""


def server_context(transport: Transport, config_dir: Path) -> ssl.SSLContext:
    """Build the context; files are relative to the config folder, as Asterisk's are to /."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version, context.maximum_version = _VERSIONS.get(
        transport.method, (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)
    )
    context.set_ciphers(":".join(transport.cipher or INTERMEDIATE_CIPHERS))
    context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    _set_groups(context)
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


def _set_groups(context: ssl.SSLContext) -> None:
    """Limit ECDH to the profile's three groups.

    Python's ``set_ecdh_curve`` takes a single curve, so the list goes to OpenSSL through
    the ``SSL_CTX *`` that CPython keeps right after the object header; the pointer is
    checked against the options Python reports before it is used. When anything does not
    match, P-256 alone is used, which the profile also accepts.
    """
    try:
        libssl = ctypes.CDLL(ssl._ssl.__file__)  # type: ignore[attr-defined]
        get_options = libssl.SSL_CTX_get_options
        ctrl = libssl.SSL_CTX_ctrl
    except (AttributeError, OSError):
        context.set_ecdh_curve("prime256v1")
        return
    get_options.argtypes = [ctypes.c_void_p]
    get_options.restype = ctypes.c_uint64
    ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_char_p]
    ctrl.restype = ctypes.c_long
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not pointer or get_options(pointer) != int(context.options):
        context.set_ecdh_curve("prime256v1")
        return
    if ctrl(pointer, _SSL_CTRL_SET_GROUPS_LIST, 0, INTERMEDIATE_GROUPS.encode()) != 1:
        log.warning("OpenSSL refused the ECDH groups %s; using P-256", INTERMEDIATE_GROUPS)
        context.set_ecdh_curve("prime256v1")


def _path(name: str, config_dir: Path) -> str:
    path = Path(name)
    return str(path if path.is_absolute() else config_dir / path)
