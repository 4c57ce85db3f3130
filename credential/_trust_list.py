"""The trust list: departments, their public keys with validity windows and states, and the
licence types each key may sign. Signed by the platform root key as a ``trustlist+jwt`` token."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ._credit_code import credit_code_problem
from ._id_number import is_division_code
from ._jws import UnverifiedJws, read_jws, sign_jws
from ._keyformat import (
    PublicKey,
    Signer,
    alg_of,
    b64url_decode,
    jwk_to_public_key,
    kid_for,
    kid_text,
)
from ._licence_identifier import make_licence_identifier, parse_licence_type_code
from .errors import (
    CredentialError,
    KeyCompromised,
    KeyNotAllowed,
    KeyNotValidAtIssuance,
    MalformedToken,
    UnknownDivisionCode,
    UnknownKey,
)

TRUST_LIST_TYP = "trustlist+jwt"


class KeyState(StrEnum):
    """A signing key's state: the one vocabulary of the trust list, the models and the pages."""

    ACTIVE = "active"  # signs from now on
    RETIRED = "retired"  # signs nothing new; what it signed still verifies
    COMPROMISED = "compromised"  # everything it signed is rejected


@dataclass(frozen=True, slots=True)
class LicenceTypeEntry:
    code: str
    name: str
    # the 21-character type code of its licence identifiers (GB/T 36904), when catalogued
    catalogue_code: str | None = None


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """One department key as the trust list describes it."""

    kid: bytes
    department: str
    public_key: PublicKey
    not_before: int
    not_after: int | None
    state: KeyState
    licence_types: frozenset[str]

    @property
    def alg(self) -> str:
        """The key's signature algorithm ("ES256", "EdDSA" or "SM2"): it verifies nothing else."""
        return alg_of(self.public_key)


@dataclass(frozen=True, slots=True)
class DepartmentEntry:
    code: str
    name: str
    licence_types: tuple[LicenceTypeEntry, ...]
    status_lists: tuple[str, ...]
    keys: tuple[TrustedKey, ...]
    # its unified social credit code (GB 32100): the issuer code of its licence identifiers
    credit_code: str | None = None
    # its 6-digit administrative division code (GB/T 2260): the issuer code of identifiers
    # from older data, which name the issuer by division
    division_code: str | None = None


@dataclass(frozen=True, slots=True)
class TrustList:
    """A parsed trust list. ``keys`` is indexed by kid."""

    issued_at: int
    expires_at: int | None
    ttl: int | None
    departments: tuple[DepartmentEntry, ...]
    keys: dict[bytes, TrustedKey] = field(default_factory=dict)
    # look-ups a verifier makes for every credential, indexed once when the list is built
    _by_code: dict[str, DepartmentEntry] = field(init=False, repr=False, compare=False)
    _type_names: dict[tuple[str, str], str] = field(init=False, repr=False, compare=False)
    _catalogue_codes: dict[tuple[str, str], str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_code: dict[str, DepartmentEntry] = {}
        type_names: dict[tuple[str, str], str] = {}
        catalogue_codes: dict[tuple[str, str], str] = {}
        for entry in self.departments:  # the first entry of a code or type wins, as in a scan
            by_code.setdefault(entry.code, entry)
            if by_code[entry.code] is entry:
                for licence_type in entry.licence_types:
                    key = (entry.code, licence_type.code)
                    if key not in type_names and licence_type.catalogue_code is not None:
                        catalogue_codes[key] = licence_type.catalogue_code
                    type_names.setdefault(key, licence_type.name)
        object.__setattr__(self, "_by_code", by_code)
        object.__setattr__(self, "_type_names", type_names)
        object.__setattr__(self, "_catalogue_codes", catalogue_codes)

    def department(self, code: str) -> DepartmentEntry | None:
        return self._by_code.get(code)

    def licence_type_name(self, department: str, type_code: str) -> str | None:
        return self._type_names.get((department, type_code))

    def licence_identifier(
        self,
        department: str,
        type_code: str,
        reference: tuple[str, int] | None,
        *,
        division: bool = False,
    ) -> str | None:
        """The whole licence identifier of a credential that carries ``reference`` (serial,
        version): type and issuer codes from this list, the issuer code being the department's
        division code when ``division`` (the credential says so), else its credit code.
        ``None`` when the credential carries none, or the list has no credit code for the
        department or no catalogue code for the type.

        Raises ``UnknownDivisionCode`` when ``division`` and the list has no division code for
        the department (the credential names an identifier this list cannot rebuild), and
        ``InvalidLicenceIdentifier`` for a serial or version an identifier cannot have (the
        credential checked both already)."""
        if reference is None:
            return None
        entry = self._by_code.get(department)
        issuer_code = None
        if entry is not None:
            issuer_code = entry.division_code if division else entry.credit_code
        if issuer_code is None and division:
            raise UnknownDivisionCode(
                f"the credential's licence identifier names its issuer by division code and the "
                f"trust list has none for department {department!r}"
            )
        catalogue_code = self._catalogue_codes.get((department, type_code))
        if issuer_code is None or catalogue_code is None:
            return None
        serial, version = reference
        return str(
            make_licence_identifier(
                type_code=catalogue_code, issuer_code=issuer_code, serial=serial, version=version
            )
        )

    def authorise(self, *, kid: bytes, issuer: str, type_code: str, issued_at: int) -> TrustedKey:
        """The key that may have signed this credential.

        Raises ``UnknownKey``, ``KeyCompromised``, ``KeyNotValidAtIssuance`` or ``KeyNotAllowed``.
        """
        key = self.keys.get(kid)
        if key is None:
            raise UnknownKey(f"key {kid_text(kid)} is not in the trust list")
        if key.state == KeyState.COMPROMISED:
            raise KeyCompromised()
        if issued_at < key.not_before or (key.not_after is not None and issued_at > key.not_after):
            raise KeyNotValidAtIssuance()
        if key.department != issuer:
            raise KeyNotAllowed("the key belongs to another department than the issuer")
        if type_code not in key.licence_types:
            raise KeyNotAllowed(f"the key may not sign licence type {type_code!r}")
        return key


def sign_trust_list(payload: dict[str, Any], root: Signer) -> str:
    """Sign a trust-list payload (see docs/wire-format.md) with the platform root key."""
    return sign_jws(payload, root, typ=TRUST_LIST_TYP)


def _req(obj: Any, name: str, kind: type | tuple[type, ...]) -> Any:
    value = obj.get(name) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise MalformedToken(f"trust list: {name} missing or of the wrong type")
    return value


def _key_entry(department: str, raw: Any) -> TrustedKey:
    try:
        public_key = jwk_to_public_key(_req(raw, "jwk", dict))
        kid = b64url_decode(_req(raw, "kid", str))
    except CredentialError as exc:
        raise MalformedToken(f"trust list: bad key entry: {exc.detail}") from exc
    if kid != kid_for(public_key):
        raise MalformedToken("trust list: kid does not match the key's thumbprint")
    named_alg = raw.get("alg")  # optional; when present it must be the key's own algorithm
    if named_alg is not None and named_alg != alg_of(public_key):
        raise MalformedToken("trust list: alg is not the algorithm of the key")
    try:
        state = KeyState(_req(raw, "state", str))
    except ValueError:
        raise MalformedToken(f"trust list: unknown key state {raw.get('state')!r}") from None
    not_after = raw.get("not_after")
    if not_after is not None and type(not_after) is not int:
        raise MalformedToken("trust list: not_after must be an integer or null")
    types = _req(raw, "licence_types", list)
    if not all(isinstance(t, str) for t in types):
        raise MalformedToken("trust list: licence_types must be text")
    return TrustedKey(
        kid=kid,
        department=department,
        public_key=public_key,
        not_before=_req(raw, "not_before", int),
        not_after=not_after,
        state=state,
        licence_types=frozenset(types),
    )


def _optional_code(raw: Any, name: str, problem: Any) -> str | None:
    """An optional code member, checked by ``problem`` (text -> message or None)."""
    value = raw.get(name) if isinstance(raw, dict) else None
    if value is None:
        return None
    message = problem(value) if isinstance(value, str) else "must be text"
    if message is not None:
        raise MalformedToken(f"trust list: {name} {value!r}: {message}")
    return value


def _credit_code_message(value: str) -> str | None:
    found = credit_code_problem(value)
    return None if found is None else found[1]


def _division_code_message(value: str) -> str | None:
    if is_division_code(value):
        return None
    return "is not a 6-digit administrative division code"


def _type_code_message(value: str) -> str | None:
    try:
        parse_licence_type_code(value)
    except CredentialError as exc:
        return exc.detail
    return None


def _licence_type_entry(raw: Any) -> LicenceTypeEntry:
    return LicenceTypeEntry(
        _req(raw, "code", str),
        _req(raw, "name", str),
        _optional_code(raw, "catalogue_code", _type_code_message),
    )


def parse_trust_list(jws: UnverifiedJws) -> TrustList:
    """Build a ``TrustList`` from a token's payload. Raises ``MalformedToken``."""
    payload = jws.payload
    departments = []
    keys: dict[bytes, TrustedKey] = {}
    for raw in _req(payload, "departments", list):
        code = _req(raw, "code", str)
        entry = DepartmentEntry(
            code=code,
            name=_req(raw, "name", str),
            licence_types=tuple(_licence_type_entry(t) for t in _req(raw, "licence_types", list)),
            status_lists=tuple(str(u) for u in _req(raw, "status_lists", list)),
            keys=tuple(_key_entry(code, k) for k in _req(raw, "keys", list)),
            credit_code=_optional_code(raw, "credit_code", _credit_code_message),
            division_code=_optional_code(raw, "division_code", _division_code_message),
        )
        for key in entry.keys:
            keys[key.kid] = key
        departments.append(entry)
    expires_at, ttl = payload.get("exp"), payload.get("ttl")
    return TrustList(
        issued_at=_req(payload, "iat", int),
        expires_at=expires_at if type(expires_at) is int else None,
        ttl=ttl if type(ttl) is int else None,
        departments=tuple(departments),
        keys=keys,
    )


def read_trust_list(token: str, root_key: PublicKey) -> TrustList:
    """Parse a trust-list token and check it is signed by the pinned ``root_key``.

    Raises ``MalformedToken``, ``UnsupportedAlgorithm`` or ``BadSignature``.
    """
    jws = read_jws(token, typ=TRUST_LIST_TYP)
    jws.verify(root_key)
    return parse_trust_list(jws)
