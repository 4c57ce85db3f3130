"""The verification function: every check a counter makes on a scanned QR payload or an SD-JWT VC
presentation, in order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Literal, cast

from mypy_extensions import mypyc_attr

from credential import (
    SD_JWT_VC_TYP,
    STATUS_REVOKED,
    STATUS_SUSPENDED,
    STATUS_VALID,
    CredentialClaims,
    DisclosedLicence,
    KeyState,
    LicenceIdentity,
    SdJwtVcClaims,
    TrustedKey,
    TrustList,
    b64url,
    b64url_decode,
    decode_qr,
    disclosed_licence,
    errors,
    frozen_builder,
    read_credential,
    read_holder_proof,
    read_sd_jwt,
    status_list_id,
)

from ._sources import StatusSource, TrustSource

VALID = "valid"
OK = "ok"
STATIC_COPY = "static_copy"

# Check names, in the order they run.
CHECK_DECODE = "decode"
CHECK_CREDENTIAL = "credential"
CHECK_TRUSTED_KEY = "trusted_key"
CHECK_ISSUER_SIGNATURE = "issuer_signature"
CHECK_DISCLOSURES = "disclosures"  # SD-JWT VC presentations only
CHECK_VALIDITY = "validity"
CHECK_STATUS = "status"
CHECK_HOLDER_PROOF = "holder_proof"
CHECK_PRESENTATION_TIME = "presentation_time"
CHECK_CHALLENGE = "challenge"
CHECK_PRESENTATION = "presentation"


@mypyc_attr(native_class=False)  # compiled module, Python class: _frozen.py
@dataclass(frozen=True, slots=True)
class Policy:
    """What a verifier accepts. Times are seconds.

    ``max_status_age``: cached status older than this (now - status list ``iat``) is stale.
    The default, 24 h, is a property of the counter (how often it syncs), not of the issuer's
    ``ttl``, so an offline counter that syncs daily keeps working; a status list past its own
    ``exp`` is stale whatever its age.
    """

    max_presentation_age: int = 90
    presentation_future_skew: int = 10
    clock_skew: int = 60
    max_status_age: int = 24 * 3600
    require_presentation: bool = False


@mypyc_attr(native_class=False)  # compiled module, Python class: _frozen.py
@dataclass(frozen=True, slots=True)
class Check:
    """One check made: its name, whether it passed, and its code (``ok`` when passed)."""

    name: str
    passed: bool
    code: str


@mypyc_attr(native_class=False)  # compiled module, Python class: _frozen.py
@dataclass(frozen=True, slots=True)
class LicenceShown:
    """The licence as the counter sees it (only filled in once the issuer signature verified)."""

    holder_name: str | None  # None: an SD-JWT VC presentation that did not disclose it
    masked_id: str | None  # None: idem
    type_code: str
    type_name: str | None
    number: str
    categories: tuple[str, ...]
    fields: dict[str, str | int]
    issued_at: int
    not_before: int
    expires_at: int
    department_code: str
    department_name: str | None
    # the whole licence identifier (GB/T 36904), rebuilt from the trust list's codes and the
    # serial and version the credential carries; None when it carries none
    identifier: str | None = None


@mypyc_attr(native_class=False)  # compiled module, Python class: _frozen.py
@dataclass(frozen=True, slots=True)
class VerificationResult:
    """The answer for one payload. ``outcome`` is ``valid`` or the failing check's error code.

    An SD-JWT VC presentation has ``kind`` ``presentation``, no ``credential_id`` (the format
    carries none) and a ``licence`` with what its holder disclosed."""

    valid: bool
    outcome: str
    detail: str
    checks: tuple[Check, ...]
    kind: Literal["static", "presentation"] | None = None
    licence: LicenceShown | None = None
    credential_id: str | None = None
    status_age: int | None = None
    presented_at: int | None = None
    checked_at: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``POST /verify`` and ``elicence verify --json`` print), keys
        in field order. Built field by field: ``dataclasses.asdict`` walks and deep-copies every
        value and was 6% of an online ``POST /verify`` (py-spy, issue 11)."""
        data = {name: getattr(self, name) for name in _RESULT_FIELDS}
        data["checks"] = [{"name": c.name, "passed": c.passed, "code": c.code} for c in self.checks]
        if self.licence is not None:
            licence = {name: getattr(self.licence, name) for name in _LICENCE_FIELDS}
            licence["categories"] = list(self.licence.categories)
            licence["fields"] = dict(self.licence.fields)
            data["licence"] = licence
        return data


# One of each per presentation (23 fields): credential/_frozen.py
_new_licence_shown = frozen_builder(LicenceShown)
_new_result = frozen_builder(VerificationResult)
_RESULT_FIELDS = tuple(f.name for f in fields(VerificationResult))
_LICENCE_FIELDS = tuple(f.name for f in fields(LicenceShown))


# Checks run in a fixed order, so the checks before a failing one all passed and are always the
# same immutable values: build each list once. (Every check still runs; only its record is shared.)
_ORDER = (
    CHECK_DECODE,
    CHECK_CREDENTIAL,
    CHECK_TRUSTED_KEY,
    CHECK_ISSUER_SIGNATURE,
    CHECK_VALIDITY,
    CHECK_STATUS,
    CHECK_HOLDER_PROOF,
    CHECK_PRESENTATION_TIME,
    CHECK_CHALLENGE,
)
_PASSED = tuple(Check(name, True, OK) for name in _ORDER)
_PASSED_BEFORE = {name: _PASSED[:n] for n, name in enumerate(_ORDER)}
_PASSED_BEFORE[CHECK_PRESENTATION] = _PASSED_BEFORE[CHECK_HOLDER_PROOF]  # static copies
_STATIC_COPY_CHECKS = (
    *_PASSED_BEFORE[CHECK_PRESENTATION],
    Check(CHECK_PRESENTATION, True, STATIC_COPY),
)
_PRESENTATION_CHECKS = _PASSED_BEFORE[CHECK_CHALLENGE]
_CHALLENGED_PRESENTATION_CHECKS = _PASSED
_STATIC_COPY_DETAIL = "static copy: not presented by its holder"
# An SD-JWT VC presentation: the same checks plus its disclosures, after the issuer signature.
_SD_JWT_ORDER = (*_ORDER[:4], CHECK_DISCLOSURES, *_ORDER[4:])
_SD_JWT_PASSED = tuple(Check(name, True, OK) for name in _SD_JWT_ORDER)
_SD_JWT_PASSED_BEFORE = {name: _SD_JWT_PASSED[:n] for n, name in enumerate(_SD_JWT_ORDER)}
_SD_JWT_CHECKS = _SD_JWT_PASSED_BEFORE[CHECK_CHALLENGE]
_SD_JWT_CHALLENGED_CHECKS = _SD_JWT_PASSED


def is_sd_jwt(text: str) -> bool:
    """Whether a payload is an SD-JWT (VC) rather than QR text: ``~`` is in no QR payload
    (Base45 and the prefixes lack it) and separates every SD-JWT's parts."""
    return "~" in text


class _Failed(Exception):
    def __init__(self, check: str, error: errors.CredentialError) -> None:
        self.check = check
        self.error = error


class _Run:
    """What one verification has learnt so far (shown in the result, also when a check fails)."""

    __slots__ = ("credential_id", "kind", "licence", "passed_before", "presented_at", "status_age")

    def __init__(self) -> None:
        self.passed_before = _PASSED_BEFORE
        self.kind: Literal["static", "presentation"] | None = None
        self.licence: LicenceShown | None = None
        self.credential_id: str | None = None
        self.status_age: int | None = None
        self.presented_at: int | None = None


def _show(claims: CredentialClaims, trust_list: TrustList, identifier: str | None) -> LicenceShown:
    lic = claims.licence
    department = trust_list.department(claims.issuer)
    return _new_licence_shown(
        lic.holder_name,
        lic.masked_id,
        lic.type_code,
        trust_list.licence_type_name(claims.issuer, lic.type_code),
        lic.number,
        lic.categories,
        lic.fields,  # the claims are this verification's own: no copy needed
        claims.issued_at,
        claims.not_before,
        claims.expires_at,
        claims.issuer,
        department.name if department else None,
        identifier,
    )


def verify_payload(
    text: str,
    *,
    trust: TrustSource,
    status: StatusSource,
    now: Callable[[], int],
    policy: Policy,
    challenge: str | None = None,
    audience: str | None = None,
    credential_issuer: str | None = None,
) -> VerificationResult:
    """Verify a scanned QR payload (static copy or holder presentation) or an SD-JWT VC
    presentation ``<issuer-jwt>~<disclosures>~<kb-jwt>``.

    Never raises for any input: every failure is a result with ``valid=False`` and the
    ``credential.errors`` code of the first failing check. Checks, in order: decode, credential,
    trusted key, issuer signature, (SD-JWT VC: disclosures), validity, status, then holder
    proof, presentation time and challenge (or the static-copy policy).

    For an SD-JWT VC, ``challenge`` is the nonce and ``audience`` the ``aud`` the KB-JWT must
    carry (each checked when given), and ``credential_issuer`` the base URL of the registry whose
    trust list this is: the ``iss`` it must have and the origin of its status list URIs
    (``{credential_issuer}/status-lists/{list id}``). Without it no SD-JWT VC is trusted.
    """
    run = _Run()
    at = int(now())
    try:
        if is_sd_jwt(text):
            run.passed_before = _SD_JWT_PASSED_BEFORE
            checks = _verify_sd_jwt(
                run,
                text,
                trust=trust,
                status=status,
                at=at,
                policy=policy,
                nonce=challenge,
                audience=audience,
                credential_issuer=credential_issuer,
            )
        else:
            checks = _verify(
                run, text, trust=trust, status=status, at=at, policy=policy, challenge=challenge
            )
    except _Failed as failed:
        code = failed.error.code
        return _new_result(
            False,
            code,
            failed.error.detail,
            (*run.passed_before[failed.check], Check(failed.check, False, code)),
            run.kind,
            run.licence,
            run.credential_id,
            run.status_age,
            run.presented_at,
            at,
        )
    return _new_result(
        True,
        VALID,
        _STATIC_COPY_DETAIL if checks is _STATIC_COPY_CHECKS else VALID,
        checks,
        run.kind,
        run.licence,
        run.credential_id,
        run.status_age,
        run.presented_at,
        at,
    )


def _verify(
    run: _Run,
    text: str,
    *,
    trust: TrustSource,
    status: StatusSource,
    at: int,
    policy: Policy,
    challenge: str | None,
) -> tuple[Check, ...]:
    """Run the checks in order; returns the checks made (all passed) or raises ``_Failed``."""
    # decode: prefix, Base45, zlib (with its size cap), CBOR
    try:
        decoded = decode_qr(text)
    except errors.CredentialError as exc:
        raise _Failed(CHECK_DECODE, exc) from None
    run.kind = decoded.kind

    try:
        credential = read_credential(decoded.credential)
        proof = read_holder_proof(decoded.proof) if decoded.proof is not None else None
    except errors.CredentialError as exc:
        raise _Failed(CHECK_CREDENTIAL, exc) from None
    claims = credential.claims

    trust_list = trust.trust_list()
    try:
        if trust_list is None:
            raise errors.UnknownKey("no trust list available: sync the verifier bundle")
        key = trust_list.authorise(
            kid=credential.kid,
            issuer=claims.issuer,
            type_code=claims.licence.type_code,
            issued_at=claims.issued_at,
        )
        # the whole identifier from the list's codes; a division-code identifier the list
        # cannot rebuild (no division code for the department) is refused here
        identifier = trust_list.licence_identifier(
            claims.issuer,
            claims.licence.type_code,
            claims.identifier_reference,
            division=claims.identifier_issuer_is_division,
        )
    except errors.CredentialError as exc:
        raise _Failed(CHECK_TRUSTED_KEY, exc) from None

    try:
        credential.verify_signature(key.public_key)
    except errors.CredentialError as exc:
        raise _Failed(CHECK_ISSUER_SIGNATURE, exc) from None
    run.licence = _show(claims, trust_list, identifier)
    run.credential_id = b64url(claims.credential_id)

    _check_validity(claims.issued_at, claims.not_before, claims.expires_at, at, policy)
    _check_status(
        run,
        claims.issuer,
        claims.status.uri,
        claims.status.index,
        trust_list,
        status=status,
        at=at,
        policy=policy,
    )

    if proof is None:
        if policy.require_presentation:
            raise _Failed(CHECK_PRESENTATION, errors.PresentationRequired())
        return _STATIC_COPY_CHECKS

    run.presented_at = proof.presented_at
    try:
        proof.verify(claims.holder_key, decoded.credential)
    except errors.CredentialError as exc:
        raise _Failed(CHECK_HOLDER_PROOF, exc) from None

    _check_presentation_time(proof.presented_at, at, policy)
    if challenge is None:
        return _PRESENTATION_CHECKS
    if proof.challenge != challenge:
        raise _Failed(CHECK_CHALLENGE, errors.ChallengeMismatch())
    return _CHALLENGED_PRESENTATION_CHECKS


def _check_validity(
    issued_at: int, not_before: int, expires_at: int, at: int, policy: Policy
) -> None:
    skew = policy.clock_skew
    if issued_at > at + skew:
        raise _Failed(CHECK_VALIDITY, errors.NotYetValid("issued in the future"))
    if not_before > at + skew:
        raise _Failed(CHECK_VALIDITY, errors.NotYetValid())
    if expires_at + skew < at:
        raise _Failed(CHECK_VALIDITY, errors.Expired())


def _check_presentation_time(presented_at: int, at: int, policy: Policy) -> None:
    if presented_at > at + policy.presentation_future_skew:
        raise _Failed(CHECK_PRESENTATION_TIME, errors.PresentationFromFuture())
    if at - presented_at > policy.max_presentation_age:
        raise _Failed(
            CHECK_PRESENTATION_TIME,
            errors.StalePresentation(
                f"presented {at - presented_at} s ago; at most "
                f"{policy.max_presentation_age} s allowed"
            ),
        )


def _check_status(
    run: _Run,
    issuer: str,
    uri: str,
    index: int,
    trust_list: TrustList,
    *,
    status: StatusSource,
    at: int,
    policy: Policy,
) -> None:
    department = trust_list.department(issuer)
    if department is None or uri not in department.status_lists:
        raise _Failed(
            CHECK_STATUS,
            errors.StatusUnavailable(f"status list {uri!r} is not one of the issuer's lists"),
        )
    snapshot = status.status_list(uri)
    if snapshot is None:
        raise _Failed(CHECK_STATUS, errors.StatusUnavailable(f"no status list {uri!r} cached"))
    signer = trust_list.keys.get(snapshot.kid)
    if signer is None or signer.state == KeyState.COMPROMISED or signer.department != issuer:
        raise _Failed(
            CHECK_STATUS,
            errors.StatusUnavailable("the status list is not signed by a key of the issuer"),
        )
    run.status_age = status_age = at - snapshot.issued_at
    if status_age > policy.max_status_age:
        raise _Failed(
            CHECK_STATUS,
            errors.StatusStale(
                f"status is {status_age} s old; at most {policy.max_status_age} s allowed"
            ),
        )
    if snapshot.expires_at is not None and snapshot.expires_at + policy.clock_skew < at:
        raise _Failed(CHECK_STATUS, errors.StatusStale("the status list has expired"))
    if not 0 <= index < snapshot.status_list.size:
        raise _Failed(
            CHECK_STATUS, errors.StatusUnavailable("status index outside the status list")
        )
    value = snapshot.status_list.get(index)
    if value == STATUS_REVOKED:
        raise _Failed(CHECK_STATUS, errors.Revoked())
    if value == STATUS_SUSPENDED:
        raise _Failed(CHECK_STATUS, errors.Suspended())
    if value != STATUS_VALID:
        raise _Failed(CHECK_STATUS, errors.StatusUnavailable(f"unknown status value {value}"))


# --- SD-JWT VC presentations ----------------------------------------------------------------------
def _show_sd_jwt(
    licence: DisclosedLicence, times: tuple[int, int, int], trust_list: TrustList
) -> LicenceShown:
    identity = licence.identity
    department = trust_list.department(identity.department)
    return _new_licence_shown(
        licence.holder_name,
        licence.masked_id,
        identity.type_code,
        trust_list.licence_type_name(identity.department, identity.type_code),
        identity.number,
        licence.categories,
        licence.fields,
        *times,
        identity.department,
        department.name if department else None,
        None,  # an SD-JWT VC carries no licence identifier serial
    )


def _sd_jwt_issuer_key(
    identity: LicenceIdentity,
    vc: SdJwtVcClaims,
    trust_list: TrustList | None,
    credential_issuer: str | None,
    issued_at: int,
) -> TrustedKey:
    """The trust list's key for the issuer JWT: ``iss`` must be this verifier's credential
    issuer, ``kid`` a key of the trust list that may sign the licence's type for its department
    at ``iat``."""
    if trust_list is None:
        raise errors.UnknownKey("no trust list available: sync the verifier bundle")
    if credential_issuer is None:
        raise errors.UnknownIssuer("this verifier knows no credential issuer URL")
    if vc.issuer != credential_issuer.rstrip("/"):
        raise errors.UnknownIssuer(f"iss {vc.issuer!r} is not the credential issuer")
    if vc.kid is None:
        raise errors.UnknownKey("the issuer JWT names no kid")
    try:
        kid = b64url_decode(vc.kid)
    except errors.MalformedPayload:
        raise errors.UnknownKey("the issuer JWT's kid is not a key id of the trust list") from None
    return trust_list.authorise(
        kid=kid, issuer=identity.department, type_code=identity.type_code, issued_at=issued_at
    )


# The list id of each status URI, per credential issuer: a pure function of two short texts that
# repeat for every presentation of a registry (one URI per status list), so the regex of
# ``status_list_id`` runs once per URI; bounded, and it starts over when full. (Its engine was
# part of what an SD-JWT VC presentation pulls through the core's L2: docs/internals.md.)
_LIST_IDS: dict[tuple[str, str], str | None] = {}
_LIST_IDS_SIZE = 1024
_NOT_CACHED = object()


def _status_list_id(uri: str, credential_issuer: str) -> str | None:
    key = (uri, credential_issuer)
    cached = _LIST_IDS.get(key, _NOT_CACHED)
    if cached is not _NOT_CACHED:
        return cast("str | None", cached)
    list_id = status_list_id(uri, credential_issuer)
    if len(_LIST_IDS) >= _LIST_IDS_SIZE:
        _LIST_IDS.clear()
    _LIST_IDS[key] = list_id
    return list_id


def _verify_sd_jwt(
    run: _Run,
    text: str,
    *,
    trust: TrustSource,
    status: StatusSource,
    at: int,
    policy: Policy,
    nonce: str | None,
    audience: str | None,
    credential_issuer: str | None,
) -> tuple[Check, ...]:
    """``_verify`` for an SD-JWT VC presentation (docs/wire-format.md section 16)."""
    run.kind = "presentation"
    try:
        sd_jwt = read_sd_jwt(text, typ=SD_JWT_VC_TYP)
    except errors.CredentialError as exc:
        raise _Failed(CHECK_DECODE, exc) from None

    try:
        vc = sd_jwt.vc()
        identity = sd_jwt.licence_identity()
        if vc.issued_at is None or vc.expires_at is None:
            raise errors.MalformedSdJwt("a licence has iat and exp")
        if vc.status is None:
            raise errors.MalformedSdJwt("the status claim (status_list) is missing")
    except errors.CredentialError as exc:
        raise _Failed(CHECK_CREDENTIAL, exc) from None
    issued_at, expires_at, reference = vc.issued_at, vc.expires_at, vc.status
    not_before = issued_at if vc.not_before is None else vc.not_before

    trust_list = trust.trust_list()
    try:
        key = _sd_jwt_issuer_key(identity, vc, trust_list, credential_issuer, issued_at)
    except errors.CredentialError as exc:
        raise _Failed(CHECK_TRUSTED_KEY, exc) from None
    assert trust_list is not None and credential_issuer is not None  # the key was found in it

    try:
        sd_jwt.verify_issuer(key.public_key)
    except errors.CredentialError as exc:
        raise _Failed(CHECK_ISSUER_SIGNATURE, exc) from None

    try:
        claims, _ = sd_jwt.vc_claims()
        licence = disclosed_licence(identity, claims)
    except errors.CredentialError as exc:
        raise _Failed(CHECK_DISCLOSURES, exc) from None
    run.licence = _show_sd_jwt(licence, (issued_at, not_before, expires_at), trust_list)

    _check_validity(issued_at, not_before, expires_at, at, policy)

    # The status claim names the list by its full URI, the trust list and the status list token
    # by its id: the URI must be {credential issuer}/status-lists/{id} of a list of the issuing
    # department (docs/wire-format.md section 16).
    list_id = _status_list_id(reference.uri, credential_issuer)
    department = trust_list.department(identity.department)
    if list_id is None or department is None or list_id not in department.status_lists:
        raise _Failed(
            CHECK_STATUS,
            errors.UnknownStatusList(f"status list {reference.uri!r} is not a list of the issuer"),
        )
    _check_status(
        run,
        identity.department,
        list_id,
        reference.index,
        trust_list,
        status=status,
        at=at,
        policy=policy,
    )

    try:
        key_binding = sd_jwt.key_binding()
        run.presented_at = key_binding.presented_at
        key_binding.verify(sd_jwt.holder_key(), sd_jwt.presented)
    except errors.CredentialError as exc:
        raise _Failed(CHECK_HOLDER_PROOF, exc) from None

    _check_presentation_time(key_binding.presented_at, at, policy)

    if audience is not None and key_binding.audience != audience:
        raise _Failed(CHECK_CHALLENGE, errors.WrongAudience())
    if nonce is not None and key_binding.nonce != nonce:
        raise _Failed(
            CHECK_CHALLENGE,
            errors.ChallengeMismatch("the KB-JWT is not bound to this verifier's nonce"),
        )
    return _SD_JWT_CHECKS if nonce is None and audience is None else _SD_JWT_CHALLENGED_CHECKS
