"""COSE_Sign1 / CWT licence credentials: signing, reading back, algorithm and shape rules."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credential import (
    LicenceClaims,
    StatusReference,
    errors,
    kid_for,
    parse_sign1,
    read_credential,
    sign1,
    sign_credential,
)
from tests.credential._support import NOW, TestSigner, driving_licence


@pytest.fixture(scope="module")
def issuer() -> TestSigner:
    return TestSigner.generate("ES256")


@pytest.fixture(scope="module")
def holder() -> TestSigner:
    return TestSigner.generate("ES256")


def _resign(body: list, signer: TestSigner, *, protected: dict | None = None) -> bytes:
    """Re-sign a COSE_Sign1 body with chosen headers, as an attacker or another library might."""
    header = cbor2.dumps(protected if protected is not None else {1: -7, 4: signer.kid})
    to_sign = cbor2.dumps(["Signature1", header, b"", body[2]])
    return cbor2.dumps(cbor2.CBORTag(18, [header, body[1], body[2], signer.sign(to_sign)]))


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "SM2"])
def test_sign_and_read_back(alg: str) -> None:
    issuer, holder = TestSigner.generate(alg), TestSigner.generate(alg)
    claims = driving_licence(
        holder.public_key,
        not_before=NOW + 60,
        licence=LicenceClaims(
            type_code="DL",
            number="110105194912310",
            holder_name="张秀英",
            masked_id="110105********002X",
            categories=("C1", "D"),
            fields={"office": "朝阳", "points": 12},
        ),
    )
    raw = sign_credential(claims, issuer)
    read = read_credential(raw)
    read.verify_signature(issuer.public_key)
    assert read.alg == alg
    assert read.kid == issuer.kid == kid_for(issuer.public_key)
    assert read.raw == raw
    got = read.claims
    assert kid_for(got.holder_key) == holder.kid
    assert (got.issuer, got.issued_at, got.not_before, got.expires_at) == (
        claims.issuer,
        claims.issued_at,
        NOW + 60,
        claims.expires_at,
    )
    assert got.credential_id == claims.credential_id
    assert got.status == StatusReference("12", 131_071)
    assert got.licence == claims.licence


def test_kid_and_alg_are_in_the_protected_header(issuer: TestSigner, holder: TestSigner) -> None:
    raw = sign_credential(driving_licence(holder.public_key), issuer)
    item = cbor2.loads(raw)
    assert isinstance(item, cbor2.CBORTag) and item.tag == 18
    protected, unprotected, _payload, signature = item.value
    assert cbor2.loads(protected) == {1: -7, 4: issuer.kid}
    assert unprotected == {}
    assert len(signature) == 64


def test_nbf_is_omitted_when_equal_to_iat(issuer: TestSigner, holder: TestSigner) -> None:
    same = cbor2.loads(
        cbor2.loads(sign_credential(driving_licence(holder.public_key), issuer)).value[2]
    )
    later = driving_licence(holder.public_key, not_before=NOW + 1)
    other = cbor2.loads(cbor2.loads(sign_credential(later, issuer)).value[2])
    assert 5 not in same and same[6] == NOW
    assert other[5] == NOW + 1
    assert (
        read_credential(
            sign_credential(driving_licence(holder.public_key), issuer)
        ).claims.not_before
        == NOW
    )


@pytest.mark.parametrize(
    "protected, unprotected",
    [
        pytest.param({1: -35}, {}, id="es384"),
        pytest.param({1: -36}, {}, id="es512"),
        pytest.param({1: -257}, {}, id="rs256"),
        pytest.param({1: "ES256"}, {}, id="alg-as-text"),
        pytest.param({}, {1: -7}, id="alg-only-unprotected"),
        pytest.param({1: -7}, {1: -7}, id="alg-also-unprotected"),
        pytest.param({}, {}, id="alg-missing"),
    ],
)
def test_other_or_missing_alg_is_rejected(
    issuer: TestSigner, holder: TestSigner, protected: dict, unprotected: dict
) -> None:
    body = cbor2.loads(sign_credential(driving_licence(holder.public_key), issuer)).value
    raw = _resign([None, unprotected, body[2]], issuer, protected={**protected, 4: issuer.kid})
    with pytest.raises(errors.UnsupportedAlgorithm):
        read_credential(raw)


def test_signer_with_other_alg_cannot_sign(issuer: TestSigner) -> None:
    class Es384Signer:
        alg, kid = "ES384", issuer.kid

        def sign(self, data: bytes) -> bytes:
            return issuer.sign(data)

    with pytest.raises(errors.UnsupportedAlgorithm):
        sign1(b"payload", Es384Signer())


def test_alg_must_match_the_key(issuer: TestSigner, holder: TestSigner) -> None:
    """An EdDSA header over an ES256 key's signature is refused, not tried."""
    eddsa = TestSigner.generate("EdDSA")
    read = read_credential(sign_credential(driving_licence(holder.public_key), eddsa))
    with pytest.raises(errors.UnsupportedAlgorithm):
        read.verify_signature(issuer.public_key)


def test_tampered_payload_fails(issuer: TestSigner, holder: TestSigner) -> None:
    protected, unprotected, payload, signature = cbor2.loads(
        sign_credential(driving_licence(holder.public_key), issuer)
    ).value
    claims = cbor2.loads(payload)
    claims["lic"][5] = ["A1"]  # upgrade the categories
    forged = cbor2.dumps(
        cbor2.CBORTag(18, [protected, unprotected, cbor2.dumps(claims), signature])
    )
    read = read_credential(forged)
    assert read.claims.licence.categories == ("A1",)
    with pytest.raises(errors.BadSignature):
        read.verify_signature(issuer.public_key)


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "SM2"])
def test_tampered_signature_fails(alg: str, holder: TestSigner) -> None:
    issuer = TestSigner.generate(alg)
    protected, unprotected, payload, signature = cbor2.loads(
        sign_credential(driving_licence(holder.public_key), issuer)
    ).value
    for bad in (bytes([signature[0] ^ 1]) + signature[1:], signature[:-1], b"\x00" * 64):
        forged = cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, payload, bad]))
        with pytest.raises(errors.BadSignature):
            read_credential(forged).verify_signature(issuer.public_key)


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "SM2"])
def test_wrong_key_fails(alg: str, holder: TestSigner) -> None:
    issuer, other = TestSigner.generate(alg), TestSigner.generate(alg)
    read = read_credential(sign_credential(driving_licence(holder.public_key), issuer))
    with pytest.raises(errors.BadSignature):
        read.verify_signature(other.public_key)


def test_protected_header_is_signed(issuer: TestSigner, holder: TestSigner) -> None:
    """Swapping the kid in the protected header breaks the signature."""
    other = TestSigner.generate()
    _protected, unprotected, payload, signature = cbor2.loads(
        sign_credential(driving_licence(holder.public_key), issuer)
    ).value
    swapped = cbor2.dumps({1: -7, 4: other.kid})
    read = read_credential(
        cbor2.dumps(cbor2.CBORTag(18, [swapped, unprotected, payload, signature]))
    )
    assert read.kid == other.kid
    with pytest.raises(errors.BadSignature):
        read.verify_signature(issuer.public_key)


def test_truncated_and_trailing_bytes_are_bad_cbor(issuer: TestSigner, holder: TestSigner) -> None:
    raw = sign_credential(driving_licence(holder.public_key), issuer)
    for cut in (1, 10, len(raw) // 2, len(raw) - 1):
        with pytest.raises(errors.BadCbor):
            read_credential(raw[:cut])
    with pytest.raises(errors.BadCbor):
        read_credential(raw + b"\x00")
    with pytest.raises(errors.BadCbor):
        read_credential(b"")


def _with_claims(issuer: TestSigner, holder: TestSigner, mutate) -> bytes:
    payload = cbor2.loads(
        cbor2.loads(sign_credential(driving_licence(holder.public_key), issuer)).value[2]
    )
    mutate(payload)
    return _resign([None, {}, cbor2.dumps(payload)], issuer)


def _drop(key: object):
    return lambda claims: claims.pop(key)


def _put(key: object, value: object):
    return lambda claims: claims.__setitem__(key, value)


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(_drop("lic"), id="no-licence"),
        pytest.param(_drop(8), id="no-cnf"),
        pytest.param(_drop(65535), id="no-status"),
        pytest.param(_drop(1), id="no-iss"),
        pytest.param(_drop(4), id="no-exp"),
        pytest.param(_drop(7), id="no-cti"),
        pytest.param(_put(4, "2030-01-01"), id="exp-as-text"),
        pytest.param(_put(6, 1.5), id="iat-as-float"),
        pytest.param(_put(6, True), id="iat-as-bool"),
        pytest.param(_put(7, "abc"), id="cti-as-text"),
        pytest.param(_put(8, {1: {1: 2, -1: 1, -2: b"\x01" * 31, -3: True}}), id="short-x"),
        pytest.param(_put(8, {1: {1: 3, -1: 1, -2: b"\x01" * 32}}), id="rsa-holder-key"),
        pytest.param(_put(65535, {"status_list": {"idx": -1, "uri": "12"}}), id="negative-idx"),
        pytest.param(_put(65535, {"status_list": {"idx": 1}}), id="no-uri"),
        pytest.param(_put("lic", {1: "DL"}), id="licence-incomplete"),
        pytest.param(_put("lic", {1: "DL", 2: "1", 3: "X", 4: "Y", 5: "C1"}), id="categories-text"),
        pytest.param(
            _put("lic", {1: "DL", 2: "1", 3: "X", 4: "Y", 5: ["C1", 2]}), id="category-integer"
        ),
        pytest.param(
            _put("lic", {1: "DL", 2: "1", 3: "X", 4: "Y", 6: {"a": "b", 1: "c"}}),
            id="field-name-integer",
        ),
        pytest.param(
            _put("lic", {1: "DL", 2: "1", 3: "X", 4: "Y", 6: {"a": True}}), id="field-value-bool"
        ),
        pytest.param(
            _put("lic", {1: "DL", 2: "1", 3: "X", 4: "Y", 6: {"a": ["b"]}}), id="field-value-list"
        ),
        pytest.param(_put("lic", {1: "DL", 2: "1", 3: "X", 4: "Y", 6: ["a"]}), id="fields-list"),
    ],
)
def test_wrong_shapes_are_malformed(issuer: TestSigner, holder: TestSigner, mutate) -> None:
    with pytest.raises(errors.MalformedCredential):
        read_credential(_with_claims(issuer, holder, mutate))


def test_empty_categories_and_fields_and_integer_fields_are_read(
    issuer: TestSigner, holder: TestSigner
) -> None:
    lic = {1: "DL", 2: "1", 3: "X", 4: "Y", 5: [], 6: {"points": 12, "colour": "red"}}
    claims = read_credential(_with_claims(issuer, holder, _put("lic", lic))).claims.licence
    assert claims.categories == () and claims.fields == {"points": 12, "colour": "red"}


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(cbor2.CBORTag(18, [b"", {}, b""]), id="three-items"),
        pytest.param(cbor2.CBORTag(98, [b"\xa1\x01\x26", {}, b"", b""]), id="cose-sign-tag"),
        pytest.param([b"\xa1\x01\x26", {}, b"\xa0", b"\x00" * 64], id="untagged"),
        pytest.param(cbor2.CBORTag(18, ["a1", {}, b"\xa0", b""]), id="protected-as-text"),
        pytest.param(cbor2.CBORTag(18, [b"\xa1\x01\x26", [], b"\xa0", b""]), id="unprotected-list"),
        pytest.param(cbor2.CBORTag(18, [b"\xa1\x01\x26", {}, None, b""]), id="detached-payload"),
        pytest.param(
            cbor2.CBORTag(18, [b"\x82\x01\x26", {}, b"\xa0", b""]), id="protected-not-map"
        ),
        pytest.param(cbor2.CBORTag(18, [b"\xa1\x01", {}, b"\xa0", b""]), id="protected-not-cbor"),
        pytest.param({"a": 1}, id="a-map"),
    ],
)
def test_wrong_envelopes_are_malformed(item: object) -> None:
    with pytest.raises(errors.MalformedCredential):
        read_credential(cbor2.dumps(item))


def test_kid_is_required(issuer: TestSigner, holder: TestSigner) -> None:
    body = cbor2.loads(sign_credential(driving_licence(holder.public_key), issuer)).value
    with pytest.raises(errors.MalformedCredential):
        read_credential(_resign(body, issuer, protected={1: -7}))
    with pytest.raises(errors.MalformedCredential):
        read_credential(_resign(body, issuer, protected={1: -7, 4: "kid-as-text"}))


def test_claim_set_not_cbor_is_bad_cbor(issuer: TestSigner) -> None:
    with pytest.raises(errors.BadCbor):
        read_credential(sign1(b"\xa1\x01", issuer))


def test_parse_sign1_exposes_the_parts(issuer: TestSigner) -> None:
    envelope = parse_sign1(
        sign1(b"hello", issuer, include_kid=False, tagged=False), require_tag=False
    )
    assert (envelope.alg, envelope.kid, envelope.payload) == ("ES256", None, b"hello")
    envelope.verify(issuer.public_key)
    with pytest.raises(errors.BadSignature):
        envelope.verify(issuer.public_key, external_aad=b"other context")


def test_kid_only_in_the_unprotected_header_is_not_accepted(
    issuer: TestSigner, holder: TestSigner
) -> None:
    body = cbor2.loads(sign_credential(driving_licence(holder.public_key), issuer)).value
    moved = _resign(list(body), issuer, protected={1: -7})
    envelope = cbor2.loads(moved).value
    with_unprotected_kid = cbor2.dumps(
        cbor2.CBORTag(18, [envelope[0], {4: issuer.kid}, envelope[2], envelope[3]])
    )
    with pytest.raises(errors.MalformedCredential):
        read_credential(with_unprotected_kid)


# --- mutated claim sets: decoded claims of the right types, or MalformedCredential -------------
_CLAIM_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 2**41)
    | st.sampled_from([0, 2**40, 2**40 + 1, -1])
    | st.text(max_size=3)
    | st.sampled_from(["", "x" * 256, "x" * 257])
    | st.binary(max_size=34)
    | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=2)
    ),
    max_leaves=5,
)


@given(st.data())
@settings(max_examples=400, deadline=None)
def test_mutated_claim_sets_decode_to_typed_claims_or_are_malformed(data: st.DataObject) -> None:
    from credential._cwt import _map_to_claims

    holder = _HOLDER
    claim_set = cbor2.loads(
        cbor2.loads(sign_credential(driving_licence(holder.public_key), _ISSUER)).value[2]
    )
    for _ in range(data.draw(st.integers(1, 2))):
        where = data.draw(st.sampled_from(["claim", "licence", "status", "cnf", "delete"]))
        value = data.draw(_CLAIM_VALUES)
        if where == "claim":
            claim_set[data.draw(st.sampled_from([1, 4, 5, 6, 7, 8, 65535, "lic"]))] = value
        elif where == "licence" and isinstance(claim_set.get("lic"), dict):
            claim_set["lic"][data.draw(st.integers(1, 6))] = value
        elif where == "status" and isinstance(claim_set.get(65535), dict):
            status = claim_set[65535].get("status_list")
            if isinstance(status, dict):
                status[data.draw(st.sampled_from(["idx", "uri"]))] = value
        elif where == "cnf" and isinstance(claim_set.get(8), dict):
            claim_set[8][data.draw(st.sampled_from([1, 2]))] = value
        elif where == "delete":
            claim_set.pop(data.draw(st.sampled_from([1, 4, 5, 6, 7, 8, 65535, "lic"])), None)
    try:
        claims = _map_to_claims(claim_set)
    except errors.MalformedCredential:
        return  # refused with its defined code; any other exception fails the test
    assert all(
        type(text) is str and 0 < len(text) <= 256
        for text in (
            claims.issuer,
            claims.status.uri,
            claims.licence.type_code,
            claims.licence.number,
            claims.licence.holder_name,
            claims.licence.masked_id,
        )
    )
    times = (claims.issued_at, claims.not_before, claims.expires_at)
    assert all(type(t) is int and 0 <= t <= 2**40 for t in times)
    assert type(claims.status.index) is int and claims.status.index >= 0
    assert all(type(c) is str for c in claims.licence.categories)
    assert all(type(v) in (str, int) for v in claims.licence.fields.values())


_ISSUER = TestSigner.from_seed("ES256", 0x1551)
_HOLDER = TestSigner.from_seed("ES256", 0x4011)
_EDDSA_HOLDER = TestSigner.from_seed("EdDSA", 0x4012)


# --- the signed claim set is the deterministic encoding (built in key order, not sorted) -------
@given(
    fields=st.dictionaries(
        st.text(min_size=1, max_size=30),
        st.text(min_size=1, max_size=5) | st.integers(-(2**63), 2**64 - 1),
        max_size=6,
    ),
    categories=st.lists(st.text(min_size=1, max_size=4), max_size=3),
    not_before=st.sampled_from([0, 60]),
    identifier=st.sampled_from([None, ("AB12", 1, False), ("0000000000XYZ", 999, True)]),
    alg=st.sampled_from(["ES256", "EdDSA"]),
)
@settings(max_examples=200, deadline=None)
def test_the_signed_claim_set_and_envelope_are_deterministic_cbor(
    fields: dict[str, str | int],
    categories: list[str],
    not_before: int,
    identifier: tuple[str, int, bool] | None,
    alg: str,
) -> None:
    holder = _HOLDER if alg == "ES256" else _EDDSA_HOLDER
    claims = driving_licence(
        holder.public_key,
        not_before=NOW + not_before,
        licence=LicenceClaims(
            type_code="DL",
            number="110105194912310",
            holder_name="张秀英",
            masked_id="110105********002X",
            categories=tuple(categories),
            fields=fields,
            identifier=identifier[:2] if identifier else None,
            identifier_division=bool(identifier and identifier[2]),
        ),
    )
    raw = sign_credential(claims, _ISSUER)
    envelope = cbor2.loads(raw)
    # decoded and re-encoded with the encoder's own deterministic sorting: the same bytes
    assert cbor2.dumps(cbor2.loads(envelope.value[2]), canonical=True) == envelope.value[2]
    assert cbor2.dumps(envelope, canonical=True) == raw
    assert read_credential(raw).claims.licence.fields == fields
