"""The TLS server context: Mozilla's intermediate profile by default, ``method=`` pinning a
version, client certificates when asked; handshakes run in memory against a real client."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from switchboard.certificates import issue
from switchboard.config.pjsip import Transport
from switchboard.diagnostics import Location
from switchboard.transport.tls import server_context


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys")
    issue(host="127.0.0.1", organisation="VoipCo", directory=folder)
    return folder


def transport(keys: Path, **options: object) -> Transport:
    return Transport(
        "transport-tls",
        Location("pjsip.conf", 1),
        protocol="tls",
        cert_file="asterisk.crt",
        priv_key_file="asterisk.key",
        **options,
    )


def handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> ssl.SSLObject:
    """Run a handshake between the two contexts through memory; return the client's end."""
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    from_server, from_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    ours = server.wrap_bio(to_server, from_server, server_side=True)
    theirs = client.wrap_bio(to_client, from_client, server_hostname="127.0.0.1")
    done = {"server": False, "client": False}
    for _ in range(20):
        for name, side in (("client", theirs), ("server", ours)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        to_server.write(from_client.read())
        to_client.write(from_server.read())
        if all(done.values()):
            return theirs
    raise AssertionError("the handshake did not finish")


def client(keys: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(keys / "ca.crt"))


def test_the_default_is_mozilla_intermediate(keys: Path) -> None:
    context = server_context(transport(keys), keys)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.maximum_version == ssl.TLSVersion.TLSv1_3
    assert not context.options & ssl.OP_CIPHER_SERVER_PREFERENCE
    assert context.options & ssl.OP_NO_COMPRESSION
    assert context.verify_mode == ssl.CERT_NONE
    tls12 = [c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert tls12 and all(name.startswith("ECDHE-") for name in tls12)
    assert all(("GCM" in name or "CHACHA20" in name) and "CBC" not in name for name in tls12)
    assert handshake(context, client(keys)).version() == "TLSv1.3"


def test_tls_1_2_gets_an_ecdhe_aead_suite(keys: Path) -> None:
    old = client(keys)
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    cipher = handshake(server_context(transport(keys), keys), old).cipher()
    assert cipher is not None
    assert cipher[0].startswith("ECDHE-RSA-") and cipher[1] == "TLSv1.2"


def test_ecdh_groups_are_limited_to_the_profile(keys: Path) -> None:
    context = server_context(transport(keys), keys)
    p256 = client(keys)
    p256.set_ecdh_curve("prime256v1")
    assert handshake(context, p256).version() == "TLSv1.3"
    p521 = client(keys)
    p521.set_ecdh_curve("secp521r1")
    with pytest.raises(ssl.SSLError):
        handshake(context, p521)


@pytest.mark.parametrize(
    ("method", "versions"),
    [
        ("tlsv1_2", (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)),
        ("tlsv1_3", (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3)),
        ("tlsv1", (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)),
        ("sslv23", (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)),
        ("", (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)),
    ],
)
def test_method_pins_a_version_and_never_goes_below_tls_1_2(
    keys: Path, method: str, versions: tuple[ssl.TLSVersion, ssl.TLSVersion]
) -> None:
    context = server_context(transport(keys, method=method), keys)
    assert (context.minimum_version, context.maximum_version) == versions


def test_cipher_option_replaces_the_tls_1_2_list(keys: Path) -> None:
    context = server_context(transport(keys, cipher=("ECDHE-RSA-AES256-GCM-SHA384",)), keys)
    tls12 = [c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert tls12 == ["ECDHE-RSA-AES256-GCM-SHA384"]


def test_client_certificates_when_asked(keys: Path) -> None:
    asks = server_context(transport(keys, verify_client=True, ca_list_file="ca.crt"), keys)
    assert asks.verify_mode == ssl.CERT_OPTIONAL
    requires = server_context(
        transport(keys, verify_client=True, require_client_cert=True, ca_list_file="ca.crt"),
        keys,
    )
    assert requires.verify_mode == ssl.CERT_REQUIRED
