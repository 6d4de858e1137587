"""Digest authentication: RFC known answers, the credentials parser, challenges, every outcome."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.sip.digest import (
    Authenticator,
    AuthResult,
    DigestAlgorithm,
    DigestCredentials,
    DigestParseError,
    DigestSecret,
    Outcome,
    Reason,
    _params_by_grammar,
    _params_quickly,
    build_challenge,
    compute_ha1,
    compute_response,
    find_credentials,
    format_credentials,
    parse_credentials,
)

# --- RFC known answers ------------------------------------------------------------------------

# RFC 2617 §3.5 (user "Mufasa", password "Circle Of Life").
RFC2617_AUTHORIZATION = """Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41\""""

# RFC 7616 §3.9.1 (user "Mufasa", password "Circle of Life"), MD5 then SHA-256.
RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC7616_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC7616_RESPONSES = {
    DigestAlgorithm.MD5: "8ca523f5e9506fed4657c9700eebdbec",
    DigestAlgorithm.SHA_256: "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
}


def rfc7616_authorization(algorithm: DigestAlgorithm) -> str:
    return f"""Digest username="Mufasa",
       realm="http-auth@example.org",
       uri="/dir/index.html",
       algorithm={algorithm.value},
       nonce="{RFC7616_NONCE}",
       nc=00000001,
       cnonce="{RFC7616_CNONCE}",
       qop=auth,
       response="{RFC7616_RESPONSES[algorithm]}",
       opaque="{RFC7616_OPAQUE}\""""


def test_rfc2617_example_parses_to_its_parameters() -> None:
    assert parse_credentials(RFC2617_AUTHORIZATION) == DigestCredentials(
        username="Mufasa",
        realm="testrealm@host.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        uri="/dir/index.html",
        response="6629fae49393a05397450978507c4ef1",
        algorithm="MD5",
        cnonce="0a4f113b",
        qop="auth",
        nc="00000001",
        opaque="5ccc069c403ebaf9f0171e9517f40e41",
    )


def test_rfc2617_example_response() -> None:
    c = parse_credentials(RFC2617_AUTHORIZATION)
    ha1 = compute_ha1(DigestAlgorithm.MD5, c.username, c.realm, "Circle Of Life")
    assert ha1 == "939e7578ed9e3c518a452acee763bce9"
    response = compute_response(
        DigestAlgorithm.MD5, ha1, c.nonce, "GET", c.uri, qop=c.qop, nc=c.nc, cnonce=c.cnonce
    )
    assert response == c.response


@pytest.mark.parametrize("algorithm", list(RFC7616_RESPONSES))
def test_rfc7616_examples(algorithm: DigestAlgorithm) -> None:
    c = parse_credentials(rfc7616_authorization(algorithm))
    assert c.digest_algorithm is algorithm
    ha1 = compute_ha1(algorithm, c.username, c.realm, "Circle of Life")
    response = compute_response(
        algorithm, ha1, c.nonce, "GET", c.uri, qop=c.qop, nc=c.nc, cnonce=c.cnonce
    )
    assert response == RFC7616_RESPONSES[algorithm]


def test_rfc2069_form_without_qop() -> None:
    # RFC 2617 §3.2.2.1: request-digest = KD(H(A1), unq(nonce-value) ":" H(A2)).
    h = DigestAlgorithm.MD5.hash
    ha1 = h(b"bob:biloxi.com:zanzibar")
    expected = h(f"{ha1}:abc:{h(b'REGISTER:sip:biloxi.com')}".encode())
    assert compute_response(DigestAlgorithm.MD5, ha1, "abc", "REGISTER", "sip:biloxi.com") == (
        expected
    )


@pytest.mark.parametrize(
    "algorithm",
    [DigestAlgorithm.MD5_SESS, DigestAlgorithm.SHA_256_SESS, DigestAlgorithm.SHA_512_256_SESS],
)
def test_sess_variants_fold_nonce_and_cnonce_into_ha1(algorithm: DigestAlgorithm) -> None:
    # RFC 7616 §3.4.2: A1 = H(unq(username):unq(realm):passwd):unq(nonce):unq(cnonce).
    h = algorithm.hash
    ha1 = h(b"u:r:p")
    session_ha1 = h(b"%s:N:C" % ha1.encode())
    expected = h(f"{session_ha1}:N:00000001:C:auth:{h(b'REGISTER:sip:r')}".encode())
    got = compute_response(
        algorithm, ha1, "N", "REGISTER", "sip:r", qop="auth", nc="00000001", cnonce="C"
    )
    assert got == expected


def test_auth_int_hashes_the_body() -> None:
    # RFC 7616 §3.4.3: A2 = Method ":" request-uri ":" H(entity-body).
    h = DigestAlgorithm.SHA_256.hash
    ha2 = h(f"INVITE:sip:r:{h(b'v=0')}".encode())
    expected = h(f"HA1:N:00000002:C:auth-int:{ha2}".encode())
    got = compute_response(
        DigestAlgorithm.SHA_256,
        "HA1",
        "N",
        "INVITE",
        "sip:r",
        qop="auth-int",
        nc="00000002",
        cnonce="C",
        entity_body=b"v=0",
    )
    assert got == expected


def test_sha_512_256_uses_the_truncated_sha_512() -> None:
    # FIPS 180-4 SHA-512/256 of "abc".
    assert DigestAlgorithm.SHA_512_256.hash(b"abc") == (
        "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
    )


@pytest.mark.parametrize(
    ("token", "algorithm"),
    [
        ("MD5", DigestAlgorithm.MD5),
        ("md5", DigestAlgorithm.MD5),
        ("sha-256", DigestAlgorithm.SHA_256),
        ("SHA-256-SESS", DigestAlgorithm.SHA_256_SESS),
        ("AKAv1-MD5", None),
    ],
)
def test_algorithm_tokens_are_case_insensitive(
    token: str, algorithm: DigestAlgorithm | None
) -> None:
    assert DigestAlgorithm.from_token(token) is algorithm


# --- parser ---------------------------------------------------------------------------------

MINIMAL = 'Digest username="alice",realm="sb",nonce="n",uri="sip:sb",response="r"'


def test_minimal_credentials_default_to_md5_without_qop() -> None:
    c = parse_credentials(MINIMAL)
    assert (c.algorithm, c.qop, c.nc, c.nc_value, c.cnonce, c.opaque) == (
        "MD5",
        None,
        None,
        None,
        None,
        None,
    )


def test_parameters_in_any_order_and_any_case() -> None:
    value = (
        'dIGEST NC=0000000a, Response="r", URI="sip:sb", qop=auth, '
        'Nonce="n", CNonce="c", Realm="sb", UserName="alice", Algorithm=sha-256'
    )
    c = parse_credentials(value)
    assert c.username == "alice"
    assert c.nc_value == 10
    assert c.digest_algorithm is DigestAlgorithm.SHA_256


def test_quoted_pairs_are_unescaped() -> None:
    c = parse_credentials(r'Digest username="a\"l\\ice",realm="s\b",nonce="n",uri="u",response="r"')
    assert c.username == 'a"l\\ice'
    assert c.realm == "sb"


def test_quoted_strings_keep_commas_equals_and_utf8() -> None:
    c = parse_credentials('Digest username="zoë, x=1",realm="sb",nonce="n",uri="u",response="r"')
    assert c.username == "zoë, x=1"


def test_unknown_parameters_are_ignored() -> None:
    c = parse_credentials(MINIMAL + ',userhash=false,x-vendor="a b",auts="zz"')
    assert c == parse_credentials(MINIMAL)


def test_linear_whitespace_and_line_folding_between_parameters() -> None:
    c = parse_credentials(
        'Digest\tusername = "alice" ,\r\n realm= "sb",nonce ="n",uri="u",response="r"  '
    )
    assert (c.username, c.realm) == ("alice", "sb")


def test_lenient_quoting_of_qop_and_nc_as_some_phones_send() -> None:
    c = parse_credentials(MINIMAL + ',qop="auth",nc="00000001",cnonce="c",algorithm="MD5"')
    assert (c.qop, c.nc, c.algorithm) == ("auth", "00000001", "MD5")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "expected 'Digest'"),
        ("Digest", "expected 'Digest'"),
        ("Digest ", "expected name=token"),
        ("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "expected scheme 'Digest'"),
        ('Digest username="alice"', "'realm'"),
        ('Digest realm="sb",nonce="n",uri="u",response="r"', "'username'"),
        (MINIMAL.replace(',response="r"', ""), "'response'"),
        (MINIMAL + ",", "after the last comma"),
        (MINIMAL + ",,opaque=x", "expected name=token"),
        (MINIMAL + ' opaque="x"', "expected name=token"),
        ('Digest username="alice,realm="sb"', "expected name=token"),
        ('Digest username="al\x00ice",realm="sb",nonce="n",uri="u",response="r"', "expected"),
        ("Digest username=al ice", "expected name=token"),
        ("Digest username=<alice>", "expected name=token"),
        ("Digest =x", "expected name=token"),
        (MINIMAL + ',username="bob"', "'username' twice"),
        (MINIMAL + ',REALM="x"', "'realm' twice"),
        (MINIMAL + ",nc=1,qop=auth,cnonce=c", "8 hex digits"),
        (MINIMAL + ",nc=0000000g,qop=auth,cnonce=c", "8 hex digits"),
        (MINIMAL + ",qop=auth,cnonce=c", "'nc' and 'cnonce'"),
        (MINIMAL + ",qop=auth,nc=00000001", "'nc' and 'cnonce'"),
    ],
)
def test_malformed_credentials_raise_digest_parse_error(value: str, message: str) -> None:
    with pytest.raises(DigestParseError, match=message) as raised:
        parse_credentials(value)
    assert raised.value.status_code == 400


def test_lone_surrogates_are_malformed() -> None:
    with pytest.raises(DigestParseError, match="lone surrogate at offset 17"):
        parse_credentials('Digest username="\ud800",realm="sb",nonce="n",uri="u",response="r"')


def test_find_credentials_picks_the_value_for_our_realm() -> None:
    other = MINIMAL.replace('realm="sb"', 'realm="carrier"')
    assert find_credentials([other, MINIMAL], "sb") == parse_credentials(MINIMAL)
    third = MINIMAL.replace('realm="sb"', 'realm="pstn"')
    assert find_credentials([other, third], "sb") == parse_credentials(other)
    assert find_credentials([], "sb") is None
    with pytest.raises(DigestParseError):
        find_credentials([MINIMAL, "Digest junk"], "carrier")


def test_find_credentials_skips_schemes_other_than_digest() -> None:
    # RFC 4475 §3.3.7 (regaut01): an unknown scheme is ignored, so the request is challenged.
    unknown = "NoOneKnowsThisScheme opaque-data=here"
    assert find_credentials([unknown], "sb") is None
    basic = "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    assert find_credentials([basic, unknown, MINIMAL], "sb") == parse_credentials(MINIMAL)
    with pytest.raises(DigestParseError):
        find_credentials([unknown, "Digest junk"], "sb")
    with pytest.raises(DigestParseError):
        find_credentials(["Digest"], "sb")


def test_every_prefix_either_parses_or_raises_parse_error() -> None:
    for end in range(len(RFC2617_AUTHORIZATION) + 1):
        with contextlib.suppress(DigestParseError):
            parse_credentials(RFC2617_AUTHORIZATION[:end])


def test_trailing_garbage_is_rejected() -> None:
    for tail in (" x", ";lr", '"', "\x00"):
        with pytest.raises(DigestParseError):
            parse_credentials(RFC2617_AUTHORIZATION + tail)


_TOKEN_CHARS = "abcXYZ019-.!%*_+`'~"
_tokens = st.text(alphabet=_TOKEN_CHARS, min_size=1, max_size=12)
_strings = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=20)


@st.composite
def credentials(draw: st.DrawFn) -> DigestCredentials:
    with_qop = draw(st.booleans())
    return DigestCredentials(
        username=draw(_strings),
        realm=draw(_strings),
        nonce=draw(_strings),
        uri=draw(_strings),
        response=draw(_strings),
        algorithm=draw(st.sampled_from([a.value for a in DigestAlgorithm]) | _tokens),
        cnonce=draw(_strings) if with_qop else draw(st.none() | _strings),
        qop=draw(st.sampled_from(["auth", "auth-int"]) | _tokens) if with_qop else None,
        nc=draw(st.from_regex(r"[0-9a-fA-F]{8}", fullmatch=True)) if with_qop else None,
        opaque=draw(st.none() | _strings),
    )


@given(credentials())
def test_format_then_parse_round_trips(c: DigestCredentials) -> None:
    assert parse_credentials(format_credentials(c)) == c


@given(st.text(max_size=200))
def test_parser_fuzz_raises_only_its_own_error(value: str) -> None:
    with contextlib.suppress(DigestParseError):
        parse_credentials(value)


@given(
    st.text(alphabet='Digest usernamrlcofq=",\\ \t\r\n0123456789abcdef"', max_size=160)
    | st.builds(
        lambda i, s: RFC2617_AUTHORIZATION[:i] + s + RFC2617_AUTHORIZATION[i:],
        st.integers(0, len(RFC2617_AUTHORIZATION)),
        st.text(alphabet='=,"\\ x\x00\x7f\u00e9', max_size=4),
    )
)
def test_parser_fuzz_near_the_grammar_raises_only_its_own_error(value: str) -> None:
    with contextlib.suppress(DigestParseError):
        parse_credentials(value)


_near_usual = st.text(
    alphabet='Digest usernamrlcofq=",\\ \t0123456789abcdef"', max_size=160
) | st.builds(
    lambda i, s: (
        RFC2617_AUTHORIZATION.replace("\n", "")[:i]
        + s
        + RFC2617_AUTHORIZATION.replace("\n", "")[i:]
    ),
    st.integers(0, len(RFC2617_AUTHORIZATION)),
    st.text(alphabet='=,"\\ x\x00\x7f\u00e9', max_size=4),
)


@given(_near_usual | st.builds(format_credentials, credentials()))
def test_the_quick_split_agrees_with_the_grammar_whenever_it_answers(value: str) -> None:
    quick = _params_quickly(value)
    if quick is not None:
        assert _params_by_grammar(value) == (quick, "")


def test_the_quick_split_takes_the_usual_credentials() -> None:
    value = RFC2617_AUTHORIZATION.replace("\n", "").replace("  ", "")
    assert _params_quickly(value) == _params_by_grammar(value)[0]


# --- challenges -----------------------------------------------------------------------------

SECRET = b"s" * 32
SALT = b"\x00\x01\x02\x03\x04\x05\x06\x07"
REALM = "switchboard"
T0 = 1_790_000_000.0
_PARAM = re.compile(r'([a-z]+)=(?:"((?:[^"\\]|\\.)*)"|([^,]+))')


def challenge_params(value: str) -> dict[str, str]:
    assert value.startswith("Digest ")
    return {m[1]: m[2] if m[3] is None else m[3] for m in _PARAM.finditer(value[7:])}


def test_build_challenge_matches_pjsip_layout() -> None:
    value = build_challenge(
        "asterisk", "1700000000/abc", algorithm=DigestAlgorithm.MD5, opaque="5f2a"
    )
    assert value == (
        'Digest realm="asterisk",nonce="1700000000/abc",opaque="5f2a",algorithm=MD5,qop="auth"'
    )


def test_build_challenge_escapes_the_realm_and_marks_stale() -> None:
    value = build_challenge('a"b\\c', "n", algorithm=DigestAlgorithm.SHA_256, stale=True)
    assert value == 'Digest realm="a\\"b\\\\c",nonce="n",stale=true,algorithm=SHA-256,qop="auth"'


def test_challenge_offers_sha256_then_md5_with_one_fresh_nonce() -> None:
    auth = Authenticator(SECRET)
    values = auth.challenge(REALM, T0, SALT)
    params = [challenge_params(v) for v in values]
    assert [p["algorithm"] for p in params] == ["SHA-256", "MD5"]
    assert params[0]["nonce"] == params[1]["nonce"]
    assert params[0]["opaque"] == params[1]["opaque"] == auth.opaque(REALM)
    for p in params:
        assert (p["realm"], p["qop"]) == (REALM, "auth")
        assert "stale" not in p
    assert auth.nonces.check(params[0]["nonce"], T0, REALM).value == "valid"


def test_stale_challenge_says_stale_true() -> None:
    values = Authenticator(SECRET).challenge(REALM, T0, SALT, stale=True)
    assert all(challenge_params(v)["stale"] == "true" for v in values)


def test_offered_algorithms_are_configurable() -> None:
    values = Authenticator(SECRET, offered=[DigestAlgorithm.MD5]).challenge(REALM, T0, SALT)
    assert [challenge_params(v)["algorithm"] for v in values] == ["MD5"]


def test_challenges_are_built_as_build_challenge_writes_them_whatever_changes() -> None:
    auth = Authenticator(SECRET)
    for realm, stale, salt in [
        (REALM, False, SALT),
        (REALM, True, SALT[::-1]),
        ('odd "realm"', False, SALT),
        (REALM, False, b"\xff" * 8),
    ]:
        values = auth.challenge(realm, T0, salt, stale=stale)
        nonce = challenge_params(values[0])["nonce"]
        expected = [
            build_challenge(realm, nonce, algorithm=a, opaque=auth.opaque(realm), stale=stale)
            for a in auth.offered
        ]
        assert values == expected
    auth.offered = (DigestAlgorithm.MD5,)
    assert [challenge_params(v)["algorithm"] for v in auth.challenge(REALM, T0, SALT)] == ["MD5"]


def test_authenticator_needs_an_offer() -> None:
    with pytest.raises(ValueError, match="offered algorithm"):
        Authenticator(SECRET, offered=[])


# --- verification outcomes ------------------------------------------------------------------

USER = "alice"
PASSWORD = "wonderland"
URI = "sip:switchboard"


class Phone:
    """A UAC answering challenges the way a phone does, for driving the authenticator."""

    def __init__(self, auth: Authenticator, *, now: float = T0) -> None:
        self.auth = auth
        params = challenge_params(auth.challenge(REALM, now, SALT)[0])
        self.nonce = params["nonce"]
        self.opaque = params["opaque"]
        self.nc = 0

    def credentials(
        self,
        *,
        algorithm: DigestAlgorithm = DigestAlgorithm.SHA_256,
        password: str = PASSWORD,
        nonce: str | None = None,
        nc: int | None = None,
        qop: str | None = "auth",
        username: str = USER,
        realm: str = REALM,
        method: str = "REGISTER",
        ha1: str | None = None,
        body: bytes = b"",
    ) -> DigestCredentials:
        if nc is None:
            self.nc += 1
            nc = self.nc
        nonce = self.nonce if nonce is None else nonce
        nc_text = f"{nc:08x}" if qop is not None else None
        cnonce = "0a4f113b" if qop is not None else None
        if ha1 is None:
            ha1 = compute_ha1(algorithm, username, realm, password)
        response = compute_response(
            algorithm,
            ha1,
            nonce,
            method,
            URI,
            qop=qop,
            nc=nc_text,
            cnonce=cnonce,
            entity_body=body,
        )
        value = format_credentials(
            DigestCredentials(
                username=username,
                realm=realm,
                nonce=nonce,
                uri=URI,
                response=response,
                algorithm=algorithm.value,
                cnonce=cnonce,
                qop=qop,
                nc=nc_text,
                opaque=self.opaque,
            )
        )
        return parse_credentials(value)


GOOD = DigestSecret(password=PASSWORD)


def verify(
    auth: Authenticator,
    c: DigestCredentials | None,
    secret: DigestSecret | None = GOOD,
    *,
    now: float = T0 + 1,
    method: str = "REGISTER",
    body: bytes = b"",
) -> AuthResult:
    return auth.verify(method, c, secret, REALM, now, entity_body=body)


@pytest.fixture
def auth() -> Authenticator:
    return Authenticator(SECRET)


@pytest.mark.parametrize("algorithm", list(DigestAlgorithm))
def test_ok_for_every_algorithm(auth: Authenticator, algorithm: DigestAlgorithm) -> None:
    result = verify(auth, Phone(auth).credentials(algorithm=algorithm))
    assert result == AuthResult(Outcome.OK)
    assert result.ok and not result.stale and result.reason is None


def test_ok_without_qop_as_asterisk_accepts_rfc2069_phones(auth: Authenticator) -> None:
    assert verify(auth, Phone(auth).credentials(qop=None)).ok


def test_ok_with_auth_int_over_the_body(auth: Authenticator) -> None:
    c = Phone(auth).credentials(qop="auth-int", method="INVITE", body=b"v=0\r\n")
    assert verify(auth, c, method="INVITE", body=b"v=0\r\n").ok
    c = Phone(auth).credentials(qop="auth-int", method="INVITE", body=b"v=0\r\n")
    assert verify(auth, c, method="INVITE", body=b"v=1\r\n").reason is Reason.WRONG_PASSWORD


def test_ok_with_upper_case_hex_response(auth: Authenticator) -> None:
    c = Phone(auth).credentials()
    c = replace(c, response=c.response.upper())
    assert verify(auth, c).ok


@pytest.mark.parametrize("algorithm", [DigestAlgorithm.MD5, DigestAlgorithm.MD5_SESS])
@pytest.mark.parametrize("case", [str.lower, str.upper])
def test_ok_with_md5_cred(
    auth: Authenticator, algorithm: DigestAlgorithm, case: Callable[[str], str]
) -> None:
    md5_cred = compute_ha1(DigestAlgorithm.MD5, USER, REALM, PASSWORD)
    secret = DigestSecret(md5_cred=case(md5_cred))
    assert verify(auth, Phone(auth).credentials(algorithm=algorithm), secret).ok


def test_md5_cred_cannot_serve_sha256(auth: Authenticator) -> None:
    secret = DigestSecret(md5_cred=compute_ha1(DigestAlgorithm.MD5, USER, REALM, PASSWORD))
    result = verify(auth, Phone(auth).credentials(algorithm=DigestAlgorithm.SHA_256), secret)
    assert result == AuthResult(Outcome.FAILED, Reason.NO_SECRET_FOR_ALGORITHM)


def test_no_credentials_fail(auth: Authenticator) -> None:
    assert verify(auth, None) == AuthResult(Outcome.FAILED, Reason.NO_CREDENTIALS)


def test_unknown_user_and_wrong_password_fail_alike(auth: Authenticator) -> None:
    phone = Phone(auth)
    unknown = verify(auth, phone.credentials(username="mallory"), None)
    wrong = verify(auth, phone.credentials(password="guess"))
    assert unknown == AuthResult(Outcome.FAILED, Reason.UNKNOWN_USER)
    assert wrong == AuthResult(Outcome.FAILED, Reason.WRONG_PASSWORD)
    assert unknown.outcome is wrong.outcome is Outcome.FAILED


def test_wrong_method_fails_as_wrong_password(auth: Authenticator) -> None:
    c = Phone(auth).credentials(method="INVITE")
    assert verify(auth, c, method="REGISTER").reason is Reason.WRONG_PASSWORD


def test_realm_mismatch_fails(auth: Authenticator) -> None:
    c = Phone(auth).credentials(realm="elsewhere")
    assert verify(auth, c) == AuthResult(Outcome.FAILED, Reason.REALM_MISMATCH)


def test_unknown_algorithm_fails() -> None:
    auth = Authenticator(SECRET)
    c = Phone(auth).credentials()
    c = replace(c, algorithm="AKAv1-MD5")
    assert verify(auth, c) == AuthResult(Outcome.FAILED, Reason.UNSUPPORTED_ALGORITHM)


def test_algorithm_outside_the_accepted_set_fails() -> None:
    auth = Authenticator(SECRET, accepted=[DigestAlgorithm.SHA_256])
    c = Phone(auth).credentials(algorithm=DigestAlgorithm.MD5)
    assert verify(auth, c) == AuthResult(Outcome.FAILED, Reason.UNSUPPORTED_ALGORITHM)


def test_unknown_qop_fails(auth: Authenticator) -> None:
    c = Phone(auth).credentials(qop="auth-conf")
    assert verify(auth, c) == AuthResult(Outcome.FAILED, Reason.UNSUPPORTED_QOP)


def test_missing_qop_fails_when_required() -> None:
    auth = Authenticator(SECRET, require_qop=True)
    c = Phone(auth).credentials(qop=None)
    assert verify(auth, c) == AuthResult(Outcome.FAILED, Reason.UNSUPPORTED_QOP)


def test_expired_nonce_with_right_password_is_stale(auth: Authenticator) -> None:
    c = Phone(auth).credentials()
    result = verify(auth, c, now=T0 + 33)
    assert result == AuthResult(Outcome.STALE, Reason.STALE_NONCE)
    assert result.stale and not result.ok


def test_expired_nonce_with_wrong_password_fails(auth: Authenticator) -> None:
    c = Phone(auth).credentials(password="guess")
    assert verify(auth, c, now=T0 + 33) == AuthResult(Outcome.FAILED, Reason.WRONG_PASSWORD)


def test_nonce_lifetime_is_configurable() -> None:
    auth = Authenticator(SECRET, nonce_lifetime=300)
    assert verify(auth, Phone(auth).credentials(), now=T0 + 299).ok


def test_foreign_nonce_with_right_password_is_stale_like_asterisk(auth: Authenticator) -> None:
    # After a restart with a new secret, Asterisk answers stale=true, not a failure.
    old_server = Authenticator(b"x" * 32)
    c = Phone(old_server).credentials()
    assert verify(auth, c) == AuthResult(Outcome.STALE, Reason.BAD_NONCE)


def test_foreign_nonce_with_wrong_password_fails_as_bad_nonce(auth: Authenticator) -> None:
    c = Phone(auth).credentials(nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", password="guess")
    assert verify(auth, c) == AuthResult(Outcome.FAILED, Reason.BAD_NONCE)


def test_unknown_user_wins_over_bad_nonce(auth: Authenticator) -> None:
    c = Phone(auth).credentials(nonce="forged")
    assert verify(auth, c, None) == AuthResult(Outcome.FAILED, Reason.UNKNOWN_USER)


def test_reused_or_lower_nc_is_replay(auth: Authenticator) -> None:
    phone = Phone(auth)
    assert verify(auth, phone.credentials(nc=1)).ok
    assert verify(auth, phone.credentials(nc=2)).ok
    assert verify(auth, phone.credentials(nc=2)) == AuthResult(Outcome.FAILED, Reason.REPLAYED_NC)
    assert verify(auth, phone.credentials(nc=1)).reason is Reason.REPLAYED_NC
    assert verify(auth, phone.credentials(nc=3)).ok


def test_replaying_the_same_request_fails(auth: Authenticator) -> None:
    c = Phone(auth).credentials()
    assert verify(auth, c).ok
    assert verify(auth, c).reason is Reason.REPLAYED_NC


def test_wrong_digest_does_not_advance_the_count(auth: Authenticator) -> None:
    phone = Phone(auth)
    assert verify(auth, phone.credentials(nc=5, password="guess")).reason is (Reason.WRONG_PASSWORD)
    assert verify(auth, phone.credentials(nc=1)).ok


def test_untracked_nonce_with_high_nc_is_stale() -> None:
    # Another worker (or this one before a restart) saw nc 1..4: answer stale, not failure.
    issuer = Authenticator(SECRET)
    other = Authenticator(SECRET)
    phone = Phone(issuer)
    assert verify(issuer, phone.credentials(nc=1)).ok
    assert verify(other, phone.credentials(nc=5)) == AuthResult(Outcome.STALE, Reason.UNTRACKED_NC)
    assert verify(other, Phone(other).credentials(nc=1)).ok


def test_without_qop_there_is_no_count_to_track(auth: Authenticator) -> None:
    phone = Phone(auth)
    assert verify(auth, phone.credentials(qop=None)).ok
    assert len(auth.tracker) == 0


def test_non_utf8_username_bytes_verify_as_sent(auth: Authenticator) -> None:
    # A phone hashing a Latin-1 user name: the message layer decodes with surrogateescape.
    username = b"j\xf6rg".decode("utf-8", "surrogateescape")
    c = Phone(auth).credentials(username=username)
    ha1 = DigestAlgorithm.SHA_256.hash(b"j\xf6rg:" + REALM.encode() + b":" + PASSWORD.encode())
    assert c.response == compute_response(
        DigestAlgorithm.SHA_256, ha1, c.nonce, "REGISTER", URI, qop="auth", nc=c.nc, cnonce=c.cnonce
    )
    assert verify(auth, c).ok


@given(
    st.text(
        st.characters(codec="utf-8", min_codepoint=0x20) | st.sampled_from("\udcf6\ud800"),
        max_size=12,
    ),
    st.sampled_from(["username", "nonce", "uri", "response", "cnonce", "qop", "algorithm"]),
)
def test_any_parsed_credentials_verify_without_raising(text: str, field: str) -> None:
    auth = Authenticator(SECRET)
    c = Phone(auth).credentials()
    value = format_credentials(replace(c, **{field: text}))
    try:
        parsed = parse_credentials(value)
    except DigestParseError:
        return
    for secret in (GOOD, None, DigestSecret(md5_cred="0" * 32)):
        assert verify(auth, parsed, secret).outcome in set(Outcome)


def test_non_ascii_response_fails_without_raising(auth: Authenticator) -> None:
    c = Phone(auth).credentials()
    c = replace(c, response="é" * 64)
    assert verify(auth, c).reason is Reason.WRONG_PASSWORD


def test_every_outcome_and_caller_reason_is_covered() -> None:
    # Reasons the authenticator returns are exercised above; URI_MISMATCH is the caller's.
    assert {o.value for o in Outcome} == {"ok", "stale", "failed"}
    assert Reason.URI_MISMATCH.value == "uri mismatch"


def test_secret_repr_hides_the_password() -> None:
    assert PASSWORD not in repr(GOOD)
    md5_cred = compute_ha1(DigestAlgorithm.MD5, USER, REALM, PASSWORD)
    assert md5_cred not in repr(DigestSecret(md5_cred=md5_cred))


def test_secret_with_nothing_serves_no_algorithm() -> None:
    assert DigestSecret().ha1(DigestAlgorithm.MD5, USER, REALM) is None
