"""The verification function: every check a counter makes on a scanned QR payload, in order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from credential import (
    STATUS_REVOKED,
    STATUS_SUSPENDED,
    STATUS_VALID,
    CredentialClaims,
    TrustList,
    b64url,
    decode_qr,
    errors,
    read_credential,
    read_holder_proof,
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
CHECK_VALIDITY = "validity"
CHECK_STATUS = "status"
CHECK_HOLDER_PROOF = "holder_proof"
CHECK_PRESENTATION_TIME = "presentation_time"
CHECK_CHALLENGE = "challenge"
CHECK_PRESENTATION = "presentation"


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


@dataclass(frozen=True, slots=True)
class Check:
    """One check made: its name, whether it passed, and its code (``ok`` when passed)."""

    name: str
    passed: bool
    code: str


@dataclass(frozen=True, slots=True)
class LicenceShown:
    """The licence as the counter sees it (only filled in once the issuer signature verified)."""

    holder_name: str
    masked_id: str
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


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """The answer for one payload. ``outcome`` is ``valid`` or the failing check's error code."""

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
        """A JSON-ready dict (what ``POST /verify`` and ``elicence verify --json`` print)."""
        data = asdict(self)
        data["checks"] = [asdict(c) for c in self.checks]
        if self.licence is not None:
            data["licence"]["categories"] = list(self.licence.categories)
        return data


# A passed check is the same immutable value every time: build each once.
_PASSED: dict[tuple[str, str], Check] = {}


def _passed_check(name: str, code: str) -> Check:
    check = _PASSED.get((name, code))
    if check is None:
        check = _PASSED.setdefault((name, code), Check(name, True, code))
    return check


class _Failed(Exception):
    def __init__(self, error: errors.CredentialError) -> None:
        self.error = error


class _Run:
    """The state of one verification: checks made so far and what has been learnt."""

    def __init__(self) -> None:
        self.checks: list[Check] = []
        self.kind: Literal["static", "presentation"] | None = None
        self.licence: LicenceShown | None = None
        self.credential_id: str | None = None
        self.status_age: int | None = None
        self.presented_at: int | None = None

    def passed(self, name: str, code: str = OK) -> None:
        self.checks.append(_passed_check(name, code))

    def fail(self, name: str, error: errors.CredentialError) -> _Failed:
        self.checks.append(Check(name, False, error.code))
        return _Failed(error)


def _show(claims: CredentialClaims, trust_list: TrustList) -> LicenceShown:
    lic = claims.licence
    department = trust_list.department(claims.issuer)
    return LicenceShown(
        holder_name=lic.holder_name,
        masked_id=lic.masked_id,
        type_code=lic.type_code,
        type_name=trust_list.licence_type_name(claims.issuer, lic.type_code),
        number=lic.number,
        categories=lic.categories,
        fields=dict(lic.fields),
        issued_at=claims.issued_at,
        not_before=claims.not_before,
        expires_at=claims.expires_at,
        department_code=claims.issuer,
        department_name=department.name if department else None,
    )


def verify_payload(
    text: str,
    *,
    trust: TrustSource,
    status: StatusSource,
    now: Callable[[], int],
    policy: Policy,
    challenge: str | None = None,
) -> VerificationResult:
    """Verify a scanned QR payload (static copy or holder presentation).

    Never raises for any input: every failure is a result with ``valid=False`` and the
    ``credential.errors`` code of the first failing check. Checks, in order: decode, credential,
    trusted key, issuer signature, validity, status, then holder proof, presentation time and
    challenge (or the static-copy policy).
    """
    run = _Run()
    at = int(now())
    try:
        _verify(run, text, trust=trust, status=status, at=at, policy=policy, challenge=challenge)
    except _Failed as failed:
        return VerificationResult(
            valid=False,
            outcome=failed.error.code,
            detail=failed.error.detail,
            checks=tuple(run.checks),
            kind=run.kind,
            licence=run.licence,
            credential_id=run.credential_id,
            status_age=run.status_age,
            presented_at=run.presented_at,
            checked_at=at,
        )
    return VerificationResult(
        valid=True,
        outcome=VALID,
        detail="static copy: not presented by its holder" if run.kind == "static" else VALID,
        checks=tuple(run.checks),
        kind=run.kind,
        licence=run.licence,
        credential_id=run.credential_id,
        status_age=run.status_age,
        presented_at=run.presented_at,
        checked_at=at,
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
) -> None:
    # decode: prefix, Base45, zlib (with its size cap), CBOR
    try:
        decoded = decode_qr(text)
    except errors.CredentialError as exc:
        raise run.fail(CHECK_DECODE, exc) from None
    run.kind = decoded.kind
    run.passed(CHECK_DECODE)

    try:
        credential = read_credential(decoded.credential)
        proof = read_holder_proof(decoded.proof) if decoded.proof is not None else None
    except errors.CredentialError as exc:
        raise run.fail(CHECK_CREDENTIAL, exc) from None
    claims = credential.claims
    run.passed(CHECK_CREDENTIAL)

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
    except errors.CredentialError as exc:
        raise run.fail(CHECK_TRUSTED_KEY, exc) from None
    run.passed(CHECK_TRUSTED_KEY)

    try:
        credential.verify_signature(key.public_key)
    except errors.CredentialError as exc:
        raise run.fail(CHECK_ISSUER_SIGNATURE, exc) from None
    run.passed(CHECK_ISSUER_SIGNATURE)
    run.licence = _show(claims, trust_list)
    run.credential_id = b64url(claims.credential_id)

    skew = policy.clock_skew
    if claims.issued_at > at + skew:
        raise run.fail(CHECK_VALIDITY, errors.NotYetValid("issued in the future"))
    if claims.not_before > at + skew:
        raise run.fail(CHECK_VALIDITY, errors.NotYetValid())
    if claims.expires_at + skew < at:
        raise run.fail(CHECK_VALIDITY, errors.Expired())
    run.passed(CHECK_VALIDITY)

    _check_status(run, claims, trust_list, status=status, at=at, policy=policy)

    if proof is None:
        if policy.require_presentation:
            raise run.fail(CHECK_PRESENTATION, errors.PresentationRequired())
        run.passed(CHECK_PRESENTATION, STATIC_COPY)
        return

    run.presented_at = proof.presented_at
    try:
        proof.verify(claims.holder_key, decoded.credential)
    except errors.CredentialError as exc:
        raise run.fail(CHECK_HOLDER_PROOF, exc) from None
    run.passed(CHECK_HOLDER_PROOF)

    if proof.presented_at > at + policy.presentation_future_skew:
        raise run.fail(CHECK_PRESENTATION_TIME, errors.PresentationFromFuture())
    if at - proof.presented_at > policy.max_presentation_age:
        raise run.fail(
            CHECK_PRESENTATION_TIME,
            errors.StalePresentation(
                f"presented {at - proof.presented_at} s ago; at most "
                f"{policy.max_presentation_age} s allowed"
            ),
        )
    run.passed(CHECK_PRESENTATION_TIME)

    if challenge is not None:
        if proof.challenge != challenge:
            raise run.fail(CHECK_CHALLENGE, errors.ChallengeMismatch())
        run.passed(CHECK_CHALLENGE)


def _check_status(
    run: _Run,
    claims: CredentialClaims,
    trust_list: TrustList,
    *,
    status: StatusSource,
    at: int,
    policy: Policy,
) -> None:
    uri = claims.status.uri
    department = trust_list.department(claims.issuer)
    if department is None or uri not in department.status_lists:
        raise run.fail(
            CHECK_STATUS,
            errors.StatusUnavailable(f"status list {uri!r} is not one of the issuer's lists"),
        )
    snapshot = status.status_list(uri)
    if snapshot is None:
        raise run.fail(CHECK_STATUS, errors.StatusUnavailable(f"no status list {uri!r} cached"))
    signer = trust_list.keys.get(snapshot.kid)
    if signer is None or signer.state == "compromised" or signer.department != claims.issuer:
        raise run.fail(
            CHECK_STATUS,
            errors.StatusUnavailable("the status list is not signed by a key of the issuer"),
        )
    run.status_age = at - snapshot.issued_at
    if run.status_age > policy.max_status_age:
        raise run.fail(
            CHECK_STATUS,
            errors.StatusStale(
                f"status is {run.status_age} s old; at most {policy.max_status_age} s allowed"
            ),
        )
    if snapshot.expires_at is not None and snapshot.expires_at + policy.clock_skew < at:
        raise run.fail(CHECK_STATUS, errors.StatusStale("the status list has expired"))
    if not 0 <= claims.status.index < snapshot.status_list.size:
        raise run.fail(
            CHECK_STATUS, errors.StatusUnavailable("status index outside the status list")
        )
    value = snapshot.status_list.get(claims.status.index)
    if value == STATUS_REVOKED:
        raise run.fail(CHECK_STATUS, errors.Revoked())
    if value == STATUS_SUSPENDED:
        raise run.fail(CHECK_STATUS, errors.Suspended())
    if value != STATUS_VALID:
        raise run.fail(CHECK_STATUS, errors.StatusUnavailable(f"unknown status value {value}"))
    run.passed(CHECK_STATUS)
