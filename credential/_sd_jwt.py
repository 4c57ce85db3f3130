"""SD-JWT (RFC 9901) and the SD-JWT VC profile of a licence (draft-ietf-oauth-sd-jwt-vc).

The same licence as the COSE credential, for wallets and verifiers that speak SD-JWT VC:
an issuer-signed JWT (``typ`` ``dc+sd-jwt``) whose selectively disclosable claims travel as
disclosures ``base64url(JSON [salt, name, value])``, each replaced in the JWT by its SHA-256
digest; a presentation is ``<issuer-jwt>~<disclosure>~...~<kb-jwt>`` where the KB-JWT
(``typ`` ``kb+jwt``) is signed by the holder key of ``cnf.jwk`` over ``sd_hash``, the digest of
everything before it. docs/wire-format.md section 16 names every claim and error code.

The JWS layer is this package's own ``sign_jws``/``read_jws`` (``_jws.py``), not joserfc: the
package imports no JOSE library (DESIGN.md's import table), the signature algorithms and key
loading are the ones the COSE credential and the trust list use (ES256, EdDSA, SM2 with the
key's own algorithm whatever a header claims), and the SD-JWT part on top is digests and a walk
over the claims, which no library here offers as a pure function. The Python reference
implementation (PyPI ``sd-jwt`` 0.10.4) is the test suite's interop partner, not the verifier:
it brings jwcrypto and PyYAML into a package that may import neither, leaves ``exp``/``nbf``/
``iat`` unchecked (a TODO in its verifier), takes no clock, and verifies fewer presentations:
717 per CPU second against 1,765 here, with a floor of 3,634 for the two ES256 verifications and
the holder key load (``benchmarks/verify_sd_jwt.py`` functions run by ``benchmarks/verify.py``,
1,000 presentations x 3 rounds, on a 2-core machine at load 8-9 from other work). Under
callgrind a presentation costs 2,363K instructions here against 1,884K for the floor (80%).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from ._cwt import (
    FIELD_VALUE_TYPES,
    TEXT_TYPE,
    CredentialClaims,
    StatusReference,
    new_status_reference,
)
from ._frozen import frozen_builder
from ._jws import UnverifiedJws, json_loads, parse_jws, sign_jws
from ._keyformat import (
    PublicKey,
    Signer,
    b64url,
    b64url_decode,
    jwk_to_public_key,
    public_key_to_jwk,
)
from ._signature import sha256
from .errors import (
    BadSignature,
    ChallengeMismatch,
    CredentialError,
    DisclosureMismatch,
    Expired,
    HolderSignatureInvalid,
    MalformedPayload,
    MalformedSdJwt,
    MalformedToken,
    MissingKeyBinding,
    NotYetValid,
    PresentationFromFuture,
    SdHashMismatch,
    StalePresentation,
    UnknownKey,
    WrongAudience,
    WrongJwtType,
)

SD_JWT_VC_TYP = "dc+sd-jwt"
KB_JWT_TYP = "kb+jwt"
SD_ALG = "sha-256"
SEPARATOR = "~"

# Claims an SD-JWT VC never hides (draft-ietf-oauth-sd-jwt-vc section 3.2.2): a verifier needs
# them to judge the credential at all.
NEVER_DISCLOSABLE = frozenset({"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status"})

# The licence profile's claim names (docs/wire-format.md section 16).
CLAIM_LICENCE_TYPE = "licence_type"
CLAIM_LICENCE_NUMBER = "licence_number"
CLAIM_DEPARTMENT = "issuing_department"
CLAIM_HOLDER_NAME = "holder_name"
CLAIM_MASKED_ID = "masked_id_number"
CLAIM_CATEGORIES = "categories"
CLAIM_FIELDS = "fields"

MAX_PRESENTATION_CHARS = 256 * 1024
SALT_BYTES = 16  # 128 bits, as RFC 9901 section 9.3 recommends
_SD = "_sd"
_ARRAY_ELEMENT = "..."

ResolveKey = Callable[[str, "str | None"], PublicKey]


def _digest(text: str) -> str:
    """base64url(SHA-256(ASCII(text))): 43 characters."""
    return b64url(sha256(text.encode("ascii")))


def _json_b64(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _salt() -> str:
    return b64url(secrets.token_bytes(SALT_BYTES))


class Disclosure(NamedTuple):
    """One disclosure as it travels (``encoded``) and as it reads: ``name`` is ``None`` for an
    array element."""

    encoded: str
    digest: str
    salt: str
    name: str | None
    value: Any


def make_disclosure(name: str | None, value: Any, *, salt: str | None = None) -> Disclosure:
    """A disclosure of an object property (``name``) or of an array element (``name=None``),
    with a fresh 128-bit salt unless ``salt`` is given."""
    salt = _salt() if salt is None else salt
    body = [salt, value] if name is None else [salt, name, value]
    encoded = _json_b64(body)
    return Disclosure(encoded, _digest(encoded), salt, name, value)


def decoy_digest() -> str:
    """A digest that no disclosure matches (RFC 9901 section 4.2.5): hides how many claims a
    credential holds."""
    return _digest(_salt())


def read_disclosure(encoded: str) -> Disclosure:
    """Parse one disclosure. Raises ``MalformedSdJwt``."""
    try:
        body = json_loads(b64url_decode(encoded).decode("utf-8"))
    except (MalformedPayload, ValueError, RecursionError) as exc:
        raise MalformedSdJwt("a disclosure is not base64url JSON") from exc
    if type(body) is not list or len(body) not in (2, 3) or type(body[0]) is not str:
        raise MalformedSdJwt("a disclosure is [salt, name, value] or [salt, value]")
    if len(body) == 2:
        return Disclosure(encoded, _digest(encoded), body[0], None, body[1])
    name = body[1]
    if type(name) is not str or name in (_SD, _ARRAY_ELEMENT):
        raise MalformedSdJwt("a disclosure's claim name must be text other than _sd and ...")
    return Disclosure(encoded, _digest(encoded), body[0], name, body[2])


# --- reading and unpacking ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KeyBinding:
    """A KB-JWT that verified: when, for whom and for which challenge it was signed."""

    presented_at: int
    audience: str
    nonce: str


@dataclass(frozen=True, slots=True)
class UnverifiedKeyBinding:
    """A parsed KB-JWT (``iat``, ``aud``, ``nonce``, ``sd_hash``, all required by RFC 9901
    section 4.3) whose signature and ``sd_hash`` have not been checked yet."""

    jws: UnverifiedJws
    presented_at: int
    audience: str
    nonce: str
    sd_hash: str

    def verify(self, holder_key: PublicKey, presented: str) -> None:
        """Check that ``holder_key`` signed it over ``presented`` (everything before it).

        Raises ``UnsupportedAlgorithm``, ``HolderSignatureInvalid`` or ``SdHashMismatch``.
        """
        try:
            self.jws.verify(holder_key)
        except BadSignature as exc:
            raise HolderSignatureInvalid("the KB-JWT is not signed by the holder key") from exc
        if self.sd_hash != _digest(presented):
            raise SdHashMismatch()


@dataclass(frozen=True, slots=True)
class SdJwtVcClaims:
    """The claims an SD-JWT VC carries in the clear, read from the issuer-signed JWT (not yet
    verified): who issued it with which key, its type, its times and its status reference."""

    issuer: str
    kid: str | None
    vct: str
    issued_at: int | None
    not_before: int | None
    expires_at: int | None
    status: StatusReference | None


@dataclass(frozen=True, slots=True)
class LicenceIdentity:
    """The licence profile's always-disclosed identity (docs/wire-format.md section 16)."""

    department: str
    type_code: str
    number: str


@dataclass(frozen=True, slots=True)
class DisclosedLicence:
    """A licence as an SD-JWT VC presentation shows it: the identity, and the holder's fields
    only as far as the holder disclosed them (``None``, empty when not)."""

    identity: LicenceIdentity
    holder_name: str | None
    masked_id: str | None
    categories: tuple[str, ...]
    fields: dict[str, str | int]


@dataclass(frozen=True, slots=True)
class UnverifiedSdJwt:
    """A parsed SD-JWT or presentation whose signatures have not been checked yet.

    ``presented`` is the text the KB-JWT's ``sd_hash`` covers: issuer JWT and disclosures, each
    followed by ``~``.
    """

    issuer_jwt: UnverifiedJws
    disclosures: tuple[Disclosure, ...]
    key_binding_jwt: str | None
    presented: str

    def verify_issuer(self, public_key: PublicKey) -> None:
        """Raises ``BadSignature`` or ``UnsupportedAlgorithm`` unless the issuer signed it."""
        self.issuer_jwt.verify(public_key)

    def claims(self) -> tuple[dict[str, Any], frozenset[str]]:
        """The payload with every disclosure put in its place and undisclosed digests dropped,
        and the names of the top-level claims that came from disclosures. Objects and arrays
        with nothing disclosed inside are the payload's own (shared, not copied).

        Raises ``DisclosureMismatch`` (a disclosure given twice, not referenced by the JWT, a
        digest referenced twice, a name already present) or ``MalformedSdJwt``.
        """
        payload = self.issuer_jwt.payload
        sd_alg = payload.get("_sd_alg", SD_ALG)
        if sd_alg != SD_ALG:
            raise MalformedSdJwt(f"_sd_alg must be {SD_ALG}")
        return _unpack(payload, self.disclosures)

    def vc_claims(self) -> tuple[dict[str, Any], frozenset[str]]:
        """``claims()``, refusing an SD-JWT VC that hides a claim the profile keeps in the clear
        (``iss``, ``vct``, ``cnf``, ``status``, ``nbf``, ``exp``).

        Raises ``DisclosureMismatch`` or ``MalformedSdJwt``.
        """
        claims, disclosed = self.claims()
        hidden = disclosed & NEVER_DISCLOSABLE
        if hidden:
            raise MalformedSdJwt(f"{', '.join(sorted(hidden))} may not be selectively disclosed")
        return claims, disclosed

    def vc(self) -> SdJwtVcClaims:
        """The SD-JWT VC's clear claims. Raises ``MalformedSdJwt`` (``iss`` or ``vct`` missing,
        a time that is not a NumericDate, a malformed status reference)."""
        payload = self.issuer_jwt.payload
        issuer, vct = payload.get("iss"), payload.get("vct")
        if type(issuer) is not str or type(vct) is not str:
            raise MalformedSdJwt("iss and vct are required text claims")
        return _new_vc_claims(
            issuer,
            self.issuer_jwt.kid,
            vct,
            _opt_time(payload, "iat"),
            _opt_time(payload, "nbf"),
            _opt_time(payload, "exp"),
            _status_reference(payload),
        )

    def licence_identity(self) -> LicenceIdentity:
        """The licence's type, number and department, which the profile keeps in the clear.
        Raises ``MalformedSdJwt``."""
        payload = self.issuer_jwt.payload
        department = payload.get(CLAIM_DEPARTMENT)
        type_code = payload.get(CLAIM_LICENCE_TYPE)
        number = payload.get(CLAIM_LICENCE_NUMBER)
        if type(department) is not str or type(type_code) is not str or type(number) is not str:
            raise MalformedSdJwt(
                f"{CLAIM_DEPARTMENT}, {CLAIM_LICENCE_TYPE} and {CLAIM_LICENCE_NUMBER} are "
                "required text claims of a licence"
            )
        return _new_identity(department, type_code, number)

    def holder_key(self) -> PublicKey:
        """The key of ``cnf.jwk``. Raises ``MalformedSdJwt``."""
        cnf = self.issuer_jwt.payload.get("cnf")
        if type(cnf) is not dict or "jwk" not in cnf:
            raise MalformedSdJwt("cnf.jwk (the holder key) missing")
        try:
            return jwk_to_public_key(cnf["jwk"])
        except CredentialError as exc:
            raise MalformedSdJwt(f"cnf.jwk: {exc.detail}") from exc

    def key_binding(self) -> UnverifiedKeyBinding:
        """The parsed KB-JWT.

        Raises ``MissingKeyBinding``, ``WrongJwtType``, ``MalformedSdJwt`` or
        ``UnsupportedAlgorithm``.
        """
        if self.key_binding_jwt is None:
            raise MissingKeyBinding()
        kb = _read_jwt(self.key_binding_jwt, KB_JWT_TYP, "KB-JWT")
        claims = kb.payload
        presented_at, sd_hash = claims.get("iat"), claims.get("sd_hash")
        audience, nonce = claims.get("aud"), claims.get("nonce")
        if type(presented_at) is not int or type(sd_hash) is not str:
            raise MalformedSdJwt("the KB-JWT needs iat (integer seconds) and sd_hash")
        if type(audience) is not str or type(nonce) is not str:
            raise MalformedSdJwt("the KB-JWT needs aud and nonce (text)")
        return _new_key_binding(kb, presented_at, audience, nonce, sd_hash)

    def verify_key_binding(
        self,
        holder_key: PublicKey,
        *,
        audience: str,
        nonce: str,
        now: int,
        max_age: int,
        future_skew: int,
    ) -> KeyBinding:
        """Check the KB-JWT: signed by ``holder_key``, over this presentation, for ``audience``
        and ``nonce``, signed at most ``max_age`` seconds before ``now``.

        Raises ``MissingKeyBinding``, ``WrongJwtType``, ``MalformedSdJwt``,
        ``UnsupportedAlgorithm``, ``HolderSignatureInvalid``, ``SdHashMismatch``,
        ``WrongAudience``, ``ChallengeMismatch``, ``PresentationFromFuture`` or
        ``StalePresentation``.
        """
        kb = self.key_binding()
        kb.verify(holder_key, self.presented)
        if kb.audience != audience:
            raise WrongAudience()
        if kb.nonce != nonce:
            raise ChallengeMismatch("the KB-JWT is not bound to this verifier's nonce")
        if kb.presented_at > now + future_skew:
            raise PresentationFromFuture()
        if now - kb.presented_at > max_age:
            raise StalePresentation(
                f"KB-JWT signed {now - kb.presented_at} s ago; at most {max_age} s allowed"
            )
        return KeyBinding(kb.presented_at, audience, nonce)


# Built for every presentation (26 fields): _frozen.py
_new_sd_jwt = frozen_builder(UnverifiedSdJwt)
_new_vc_claims = frozen_builder(SdJwtVcClaims)
_new_identity = frozen_builder(LicenceIdentity)
_new_key_binding = frozen_builder(UnverifiedKeyBinding)
_new_disclosed_licence = frozen_builder(DisclosedLicence)


def _read_jwt(token: str, typ: str, what: str) -> UnverifiedJws:
    try:
        jws = parse_jws(token)
    except RecursionError as exc:
        raise MalformedSdJwt(f"the {what} nests too deep") from exc
    except MalformedToken as exc:  # UnsupportedAlgorithm keeps its own code
        raise MalformedSdJwt(f"the {what}: {exc.detail}") from exc
    if jws.header.get("typ") != typ:
        raise WrongJwtType(f"the {what}: token typ must be {typ}")
    return jws


def read_sd_jwt(text: str, *, typ: str = SD_JWT_VC_TYP) -> UnverifiedSdJwt:
    """Parse ``<issuer-jwt>~<disclosure>~...~[<kb-jwt>]`` whose issuer JWT has ``typ``.

    Raises ``MalformedSdJwt``, ``WrongJwtType`` or ``UnsupportedAlgorithm``.
    """
    if type(text) is not str or len(text) > MAX_PRESENTATION_CHARS:
        raise MalformedSdJwt("an SD-JWT must be text of sane size")
    parts = text.split(SEPARATOR)
    if len(parts) < 2:
        raise MalformedSdJwt("an SD-JWT is <issuer-jwt>~<disclosures>~ with an optional KB-JWT")
    issuer_jwt = _read_jwt(parts[0], typ, "issuer JWT")
    disclosures = tuple(map(read_disclosure, parts[1:-1]))
    key_binding_jwt = parts[-1] or None
    presented = text if key_binding_jwt is None else text[: len(text) - len(parts[-1])]
    return _new_sd_jwt(issuer_jwt, disclosures, key_binding_jwt, presented)


def _unpack(
    payload: dict[str, Any], disclosures: tuple[Disclosure, ...]
) -> tuple[dict[str, Any], frozenset[str]]:
    by_digest: dict[str, Disclosure] = {}
    for disclosure in disclosures:
        if disclosure.digest in by_digest:
            raise DisclosureMismatch("the same disclosure is given twice")
        by_digest[disclosure.digest] = disclosure
    walk = _Unpacking(by_digest)
    try:
        claims = walk.object(payload, top=True)
    except RecursionError as exc:
        raise MalformedSdJwt("the claims nest too deep") from exc
    unreferenced = by_digest.keys() - walk.seen
    if unreferenced:
        raise DisclosureMismatch(
            f"{len(unreferenced)} disclosure(s) not referenced by the issuer-signed JWT "
            "(tampered, or from another credential)"
        )
    return claims, frozenset(walk.top_level_disclosed)


class _Unpacking:
    """RFC 9901 section 7.1 step 3: one walk over the payload and the disclosed values."""

    __slots__ = ("by_digest", "seen", "top_level_disclosed")

    def __init__(self, by_digest: dict[str, Disclosure]) -> None:
        self.by_digest = by_digest
        self.seen: set[str] = set()
        self.top_level_disclosed: list[str] = []

    def _see(self, digest: Any) -> Disclosure | None:
        if type(digest) is not str:
            raise MalformedSdJwt("a digest must be text")
        if digest in self.seen:
            raise DisclosureMismatch("a digest appears more than once in the SD-JWT")
        self.seen.add(digest)
        return self.by_digest.get(digest)

    def value(self, value: Any) -> Any:
        kind = type(value)
        if kind is dict:
            return self.object(value, top=False)
        if kind is list:
            return self.array(value)
        return value

    # An object or array with nothing to unpack inside is returned as it is, not copied: most of
    # a payload (cnf, status, the licence's identity) is, and copying it cost a tenth of the
    # Python time of a verification (cProfile of benchmarks/verify_sd_jwt.py).
    def object(self, obj: dict[str, Any], *, top: bool) -> dict[str, Any]:
        out: dict[str, Any] | None = None  # a copy, made once something in ``obj`` changes
        for name, value in obj.items():
            kind = type(value)
            new: Any
            if kind is dict:
                new = self.object(value, top=False)
            elif kind is list and name != _SD:
                new = self.array(value)
            else:
                continue
            if new is not value:
                if out is None:
                    out = dict(obj)
                out[name] = new
        digests = obj.get(_SD)
        if digests is None and not top:
            return obj if out is None else out
        if out is None:
            out = dict(obj)
        out.pop(_SD, None)
        if top:
            out.pop("_sd_alg", None)
        if digests is None:
            return out
        if type(digests) is not list:
            raise MalformedSdJwt("_sd must be an array of digests")
        for digest in digests:
            disclosure = self._see(digest)
            if disclosure is None:
                continue  # undisclosed or a decoy
            claim = disclosure.name
            if claim is None:
                raise DisclosureMismatch("an array-element disclosure is referenced from _sd")
            if claim in out:
                raise DisclosureMismatch(f"disclosed claim {claim!r} is already in the object")
            out[claim] = self.value(disclosure.value)
            if top:
                self.top_level_disclosed.append(claim)
        return out

    def array(self, array: list[Any]) -> list[Any]:
        out: list[Any] | None = None  # a copy, made once an element changes
        for position, element in enumerate(array):
            kind = type(element)
            if kind is dict and _ARRAY_ELEMENT in element:
                digest = element[_ARRAY_ELEMENT]
                if len(element) != 1 or type(digest) is not str:
                    raise MalformedSdJwt('an array element digest is {"...": digest} alone')
                if out is None:
                    out = array[:position]
                disclosure = self._see(digest)
                if disclosure is None:
                    continue
                if disclosure.name is not None:
                    raise DisclosureMismatch("an object-property disclosure is used in an array")
                out.append(self.value(disclosure.value))
                continue
            new: Any
            if kind is dict:
                new = self.object(element, top=False)
            elif kind is list:
                new = self.array(element)
            else:
                new = element
            if out is not None:
                out.append(new)
            elif new is not element:
                out = array[:position]
                out.append(new)
        return array if out is None else out


# --- the licence as an SD-JWT VC ----------------------------------------------------------------
def vct_of(public_base_url: str, department: str, licence_type: str) -> str:
    """The stable credential type URL of a licence type: ``{base}/vct/{department}/{type}``."""
    return f"{public_base_url.rstrip('/')}/vct/{department}/{licence_type}"


def status_list_url(public_base_url: str, list_id: str) -> str:
    """The full URI of a status list whose id the COSE credential carries (section 7)."""
    return f"{public_base_url.rstrip('/')}/status-lists/{list_id}"


_LIST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def status_list_id(uri: str, public_base_url: str) -> str | None:
    """The list id of a full status list URI, the inverse of ``status_list_url``: ``uri`` must
    be exactly ``{public_base_url}/status-lists/{id}``, the id a plain name (letters, digits,
    ``-``, ``_``; at most 64), with no query or fragment. ``None`` for any other URI (another
    origin, another path, a look-alike such as ``{base}.evil.example/...``)."""
    prefix = f"{public_base_url.rstrip('/')}/status-lists/"
    if not uri.startswith(prefix):
        return None
    list_id = uri[len(prefix) :]
    return list_id if _LIST_ID.fullmatch(list_id) else None


def disclosed_licence(identity: LicenceIdentity, claims: dict[str, Any]) -> DisclosedLicence:
    """The licence of a presentation's processed claims (``UnverifiedSdJwt.vc_claims``): the
    holder name, masked ID number, categories and fields as far as disclosed.

    Raises ``MalformedSdJwt`` for a disclosed value of the wrong type.
    """
    holder_name = claims.get(CLAIM_HOLDER_NAME)
    masked_id = claims.get(CLAIM_MASKED_ID)
    categories = claims.get(CLAIM_CATEGORIES, [])
    fields = claims.get(CLAIM_FIELDS, {})
    if holder_name is not None and type(holder_name) is not str:
        raise MalformedSdJwt(f"{CLAIM_HOLDER_NAME} must be text")
    if masked_id is not None and type(masked_id) is not str:
        raise MalformedSdJwt(f"{CLAIM_MASKED_ID} must be text")
    # issuperset(map(type, ...)): the loop in C, no generator per presentation (as _cwt.py)
    if type(categories) is not list or not TEXT_TYPE.issuperset(map(type, categories)):
        raise MalformedSdJwt(f"{CLAIM_CATEGORIES} must be an array of text")
    if type(fields) is not dict or not FIELD_VALUE_TYPES.issuperset(map(type, fields.values())):
        raise MalformedSdJwt(f"{CLAIM_FIELDS} must map names to text or integers")
    return _new_disclosed_licence(identity, holder_name, masked_id, tuple(categories), fields)


def _sorted_digests(disclosures: list[Disclosure], decoys: int) -> list[str]:
    # Sorted, so the order of the digests says nothing about the order of the claims.
    return sorted([d.digest for d in disclosures] + [decoy_digest() for _ in range(decoys)])


def sd_jwt_vc_of_licence(
    claims: CredentialClaims, signer: Signer, *, public_base_url: str, decoys: int = 0
) -> str:
    """Issue the SD-JWT VC of a licence from the values of its COSE credential.

    ``claims`` are the ``CredentialClaims`` the issuer signs as the COSE credential, with
    ``holder_key`` the key the wallet proved it holds; ``iss`` is ``public_base_url`` (the
    credential issuer), ``status.status_list.uri`` the full URL of the same status list and
    ``vct`` the licence type's URL (``vct_of``). Always disclosed: type, number, issuing
    department, validity. Selectively disclosable: holder name, masked ID number, categories
    and each licence field. ``decoys`` decoy digests join the top-level ``_sd``.

    Returns ``<issuer-jwt>~<disclosure>~...~`` with every disclosure.
    """
    if decoys < 0:
        raise ValueError("decoys must be zero or more")
    licence = claims.licence
    base = public_base_url.rstrip("/")
    top = [
        make_disclosure(CLAIM_HOLDER_NAME, licence.holder_name),
        make_disclosure(CLAIM_MASKED_ID, licence.masked_id),
    ]
    if licence.categories:
        top.append(make_disclosure(CLAIM_CATEGORIES, list(licence.categories)))
    fields = [make_disclosure(name, value) for name, value in licence.fields.items()]
    payload: dict[str, Any] = {
        "iss": base,
        "iat": claims.issued_at,
        "exp": claims.expires_at,
        "vct": vct_of(base, claims.issuer, licence.type_code),
        "cnf": {"jwk": public_key_to_jwk(claims.holder_key)},
        "status": {
            "status_list": {
                "idx": claims.status.index,
                "uri": status_list_url(base, claims.status.uri),
            }
        },
        CLAIM_LICENCE_TYPE: licence.type_code,
        CLAIM_LICENCE_NUMBER: licence.number,
        CLAIM_DEPARTMENT: claims.issuer,
        "_sd": _sorted_digests(top, decoys),
        "_sd_alg": SD_ALG,
    }
    if claims.not_before != claims.issued_at:
        payload["nbf"] = claims.not_before
    if fields:
        payload[CLAIM_FIELDS] = {"_sd": _sorted_digests(fields, 0)}
    issuer_jwt = sign_jws(payload, signer, typ=SD_JWT_VC_TYP)
    return SEPARATOR.join([issuer_jwt, *(d.encoded for d in top + fields), ""])


# --- presenting ----------------------------------------------------------------------------------
def _chosen(
    claims: Any,
    path: tuple[str, ...],
    by_digest: dict[str, Disclosure],
    wanted: set[tuple[str, ...]],
) -> Iterator[Disclosure]:
    """The disclosures of the claims in ``wanted`` reachable from ``claims`` (an array
    element's path is the array's); a disclosed value is searched further only when chosen, so
    a nested claim never travels without its parent."""
    if type(claims) is dict:
        for digest in claims.get(_SD, ()):
            disclosure = by_digest.get(digest)
            if disclosure is not None and disclosure.name is not None:
                inner = (*path, disclosure.name)
                if inner in wanted:
                    yield disclosure
                    yield from _chosen(disclosure.value, inner, by_digest, wanted)
        for name, value in claims.items():
            if name != _SD:
                yield from _chosen(value, (*path, name), by_digest, wanted)
    elif type(claims) is list:
        for element in claims:
            digest = element.get(_ARRAY_ELEMENT) if type(element) is dict else None
            disclosure = by_digest.get(digest) if type(digest) is str else None
            if disclosure is None:
                yield from _chosen(element, path, by_digest, wanted)
            elif path in wanted:
                yield disclosure
                yield from _chosen(disclosure.value, path, by_digest, wanted)


def present_sd_jwt(
    sd_jwt: str,
    holder: Signer,
    *,
    disclose: Collection[str | tuple[str, ...]],
    audience: str,
    nonce: str,
    presented_at: int,
    typ: str = SD_JWT_VC_TYP,
) -> str:
    """Make a presentation: the disclosures of the claims named in ``disclose`` (a top-level
    name, or a path such as ``("fields", "colour")``; a nested claim goes only with its parent)
    and a KB-JWT signed by ``holder`` for ``audience`` and ``nonce`` at ``presented_at``.

    Raises ``MalformedSdJwt`` or ``UnsupportedAlgorithm`` for an SD-JWT that does not parse.
    """
    issued = read_sd_jwt(sd_jwt, typ=typ)
    wanted = {(p,) if isinstance(p, str) else tuple(p) for p in disclose}
    by_digest = {d.digest: d for d in issued.disclosures}
    chosen = list(_chosen(issued.issuer_jwt.payload, (), by_digest, wanted))
    issuer_jwt = sd_jwt.split(SEPARATOR, 1)[0]
    presented = SEPARATOR.join([issuer_jwt, *(d.encoded for d in chosen), ""])
    kb = {"iat": presented_at, "aud": audience, "nonce": nonce, "sd_hash": _digest(presented)}
    return presented + sign_jws(kb, holder, typ=KB_JWT_TYP)


# --- verifying ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class VerifiedSdJwtVc:
    """An SD-JWT VC presentation that verified: the claims the holder disclosed (with the
    always-disclosed ones; digests and ``_sd_alg`` removed), who signed it and where its status
    lives. ``disclosed`` names the top-level claims that came from disclosures."""

    issuer: str
    kid: str | None
    vct: str
    issued_at: int | None
    not_before: int | None
    expires_at: int | None
    holder_key: PublicKey
    status: StatusReference | None
    claims: dict[str, Any]
    disclosed: frozenset[str]
    key_binding: KeyBinding


def _opt_time(payload: dict[str, Any], name: str) -> int | None:
    value = payload.get(name)
    if value is not None and (type(value) is not int or value < 0):
        raise MalformedSdJwt(f"{name} must be a NumericDate (integer seconds)")
    return value


def _status_reference(payload: dict[str, Any]) -> StatusReference | None:
    status = payload.get("status")
    if status is None:
        return None
    status_list = status.get("status_list") if type(status) is dict else None
    if type(status_list) is not dict:
        raise MalformedSdJwt("status must hold a status_list reference")
    index, uri = status_list.get("idx"), status_list.get("uri")
    if type(index) is not int or index < 0 or type(uri) is not str or not uri:
        raise MalformedSdJwt("status_list needs idx (a non-negative integer) and uri (text)")
    return new_status_reference(uri, index)


def verify_sd_jwt_vc(
    presentation: str,
    *,
    resolve_key: ResolveKey,
    audience: str,
    nonce: str,
    now: int,
    max_age: int = 90,
    clock_skew: int = 60,
    future_skew: int = 10,
    require_status: bool = True,
) -> VerifiedSdJwtVc:
    """Verify an SD-JWT VC presentation ``<issuer-jwt>~<disclosure>~...~<kb-jwt>``.

    In order: parse (``typ`` ``dc+sd-jwt``); the issuer signature with
    ``resolve_key(iss, kid)`` (which raises ``UnknownKey`` for a key it does not trust); the
    disclosures (each referenced exactly once, no clashing name, none of ``iss``, ``vct``,
    ``cnf``, ``status``, ``nbf``, ``exp`` hidden); ``iat``/``nbf``/``exp`` against ``now`` within
    ``clock_skew``; the status reference (required unless ``require_status`` is false); the
    KB-JWT (``verify_key_binding``).

    Raises ``MalformedSdJwt`` (``WrongJwtType`` for a wrong ``typ``), ``UnsupportedAlgorithm``,
    ``UnknownKey``, ``BadSignature``, ``DisclosureMismatch``, ``NotYetValid``, ``Expired``,
    ``MissingKeyBinding``, ``HolderSignatureInvalid``, ``SdHashMismatch``, ``WrongAudience``,
    ``ChallengeMismatch``, ``PresentationFromFuture`` or ``StalePresentation``.
    """
    sd_jwt = read_sd_jwt(presentation, typ=SD_JWT_VC_TYP)
    vc = sd_jwt.vc()
    issuer_key = resolve_key(vc.issuer, vc.kid)
    if issuer_key is None:  # a resolver that answers None instead of raising
        raise UnknownKey(f"no trusted key {vc.kid!r} for issuer {vc.issuer!r}")
    sd_jwt.verify_issuer(issuer_key)

    claims, disclosed = sd_jwt.vc_claims()
    if vc.issued_at is not None and vc.issued_at > now + clock_skew:
        raise NotYetValid("issued in the future")
    if vc.not_before is not None and vc.not_before > now + clock_skew:
        raise NotYetValid()
    if vc.expires_at is not None and vc.expires_at + clock_skew < now:
        raise Expired()
    if vc.status is None and require_status:
        raise MalformedSdJwt("the status claim (status_list) is missing")

    holder_key = sd_jwt.holder_key()
    key_binding = sd_jwt.verify_key_binding(
        holder_key,
        audience=audience,
        nonce=nonce,
        now=now,
        max_age=max_age,
        future_skew=future_skew,
    )
    return VerifiedSdJwtVc(
        issuer=vc.issuer,
        kid=vc.kid,
        vct=vc.vct,
        issued_at=vc.issued_at,
        not_before=vc.not_before,
        expires_at=vc.expires_at,
        holder_key=holder_key,
        status=vc.status,
        claims=claims,
        disclosed=disclosed,
        key_binding=key_binding,
    )
