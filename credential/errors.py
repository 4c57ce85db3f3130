"""One error hierarchy for the whole product.

Every error carries a short machine ``code``. Apps map classes to HTTP status codes and the CLI maps
them to exit codes; this module knows nothing of either.
"""

from __future__ import annotations

__all__ = [
    "BadBase45",
    "BadCbor",
    "BadCompression",
    "BadPrefix",
    "BadSignature",
    "ChallengeMismatch",
    "CompressionBomb",
    "CredentialError",
    "DisclosureMismatch",
    "ElicenceError",
    "Expired",
    "HolderSignatureInvalid",
    "InvalidCode",
    "InvalidCreditCode",
    "InvalidIdNumber",
    "InvalidLicenceIdentifier",
    "KeyCompromised",
    "KeyNotAllowed",
    "KeyNotValidAtIssuance",
    "MalformedCredential",
    "MalformedPayload",
    "MalformedSdJwt",
    "MalformedToken",
    "MissingKeyBinding",
    "NotYetValid",
    "PayloadTooLarge",
    "PresentationError",
    "PresentationFromFuture",
    "PresentationRequired",
    "Revoked",
    "SdHashMismatch",
    "StalePresentation",
    "StatusError",
    "StatusStale",
    "StatusUnavailable",
    "Suspended",
    "TrustError",
    "UnknownDivisionCode",
    "UnknownIssuer",
    "UnknownKey",
    "UnknownStatusList",
    "UnsupportedAlgorithm",
    "ValidityError",
    "WrongAudience",
    "WrongJwtType",
]


class ElicenceError(Exception):
    """Base of every error the product names: wire-format errors here (``CredentialError``) and
    service errors (``registry.errors.ServiceError``). ``code`` is short, stable and machine
    readable; ``detail`` (default: the class's first docstring line) says what happened."""

    code = "error"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or (self.__doc__ or self.code).strip().splitlines()[0]
        super().__init__(self.detail)


class CredentialError(ElicenceError):
    """Base of the wire-format errors: what a credential, payload or document is wrong in."""

    code = "credential_error"


# --- the payload cannot be read ---------------------------------------------------------------
class MalformedPayload(CredentialError):
    """The payload could not be decoded."""

    code = "malformed"


class BadPrefix(MalformedPayload):
    """The payload does not start with a known version prefix."""

    code = "bad_prefix"


class BadBase45(MalformedPayload):
    """The payload is not valid Base45."""

    code = "bad_base45"


class BadCompression(MalformedPayload):
    """The payload is not a valid zlib stream."""

    code = "bad_compression"


class CompressionBomb(MalformedPayload):
    """The payload inflates beyond the allowed size."""

    code = "compression_bomb"


class PayloadTooLarge(MalformedPayload):
    """The payload is longer than any genuine credential."""

    code = "payload_too_large"


class BadCbor(MalformedPayload):
    """The payload is not well-formed CBOR of the expected shape."""

    code = "bad_cbor"


class MalformedCredential(MalformedPayload):
    """The credential is not a COSE_Sign1 CWT of the expected shape."""

    code = "malformed_credential"


class MalformedToken(MalformedPayload):
    """A signed document (status list, trust list) is not of the expected shape."""

    code = "malformed_token"


class MalformedSdJwt(MalformedPayload):
    """An SD-JWT VC, a disclosure or a KB-JWT is not of the expected shape (wrong ``typ``,
    missing claim, bad base64url or JSON)."""

    code = "malformed_sd_jwt"


class WrongJwtType(MalformedSdJwt):
    """A JWT of an SD-JWT VC presentation has the wrong ``typ``: the issuer-signed JWT must be
    ``dc+sd-jwt``, the KB-JWT ``kb+jwt`` (so that neither is taken for the other, or for another
    kind of token)."""

    code = "wrong_typ"


class UnsupportedAlgorithm(MalformedPayload):
    """The signature algorithm is missing, not allowed (ES256, EdDSA and SM2 are) or not the
    algorithm of the key."""

    code = "unsupported_alg"


# --- the signer cannot be trusted ---------------------------------------------------------------
class TrustError(CredentialError):
    """The signing key is not trusted for this credential."""

    code = "untrusted"


class UnknownKey(TrustError):
    """The key id is not in the trust list."""

    code = "unknown_kid"


class UnknownIssuer(UnknownKey):
    """The SD-JWT VC's ``iss`` is not the credential issuer this verifier trusts (the base URL
    of the registry its trust list comes from)."""

    code = "unknown_issuer"


class KeyCompromised(TrustError):
    """The signing key is marked compromised: nothing it signed is trusted."""

    code = "key_compromised"


class KeyNotValidAtIssuance(TrustError):
    """The credential was issued outside the signing key's validity window."""

    code = "key_not_valid"


class KeyNotAllowed(TrustError):
    """The signing key may not sign this licence type."""

    code = "key_not_allowed"


class UnknownDivisionCode(TrustError):
    """The credential's licence identifier has a division code as its issuer segment, and the
    trust list gives no division code for the issuing department."""

    code = "unknown_division_code"


class BadSignature(TrustError):
    """The issuer signature does not verify."""

    code = "bad_signature"


class DisclosureMismatch(TrustError):
    """A disclosure is not one the issuer signed: its digest is not in the SD-JWT (tampered, or
    from another credential), or it is given twice, or it names a claim already present."""

    code = "disclosure_mismatch"


# --- time ---------------------------------------------------------------------------------------
class ValidityError(CredentialError):
    """The credential is not within its validity period."""

    code = "validity"


class Expired(ValidityError):
    """The credential has expired."""

    code = "expired"


class NotYetValid(ValidityError):
    """The credential is not valid yet."""

    code = "not_yet_valid"


# --- status -------------------------------------------------------------------------------------
class StatusError(CredentialError):
    """The credential's status does not allow use."""

    code = "status"


class Revoked(StatusError):
    """The credential has been revoked."""

    code = "revoked"


class Suspended(StatusError):
    """The credential is suspended."""

    code = "suspended"


class StatusStale(StatusError):
    """The cached status information is older than the policy allows."""

    code = "status_stale"


class StatusUnavailable(StatusError):
    """No status information is available for this credential."""

    code = "status_unavailable"


class UnknownStatusList(StatusUnavailable):
    """The SD-JWT VC's status list URI is not a list of its issuer: another origin than the
    credential issuer, not ``{issuer}/status-lists/{list id}``, or a list the trust list does
    not name for the issuing department."""

    code = "unknown_status_list"


# --- holder presentation ------------------------------------------------------------------------
class PresentationError(CredentialError):
    """The holder presentation is not acceptable."""

    code = "presentation"


class HolderSignatureInvalid(PresentationError):
    """The holder proof is not signed by the credential's holder key."""

    code = "holder_signature"


class StalePresentation(PresentationError):
    """The presentation is older than the policy allows (a screenshot?)."""

    code = "stale_presentation"


class PresentationFromFuture(PresentationError):
    """The presentation's time is in the future beyond the allowed clock skew."""

    code = "presentation_from_future"


class ChallengeMismatch(PresentationError):
    """The presentation is not bound to this verifier's challenge."""

    code = "challenge_mismatch"


class PresentationRequired(PresentationError):
    """A static copy was shown where a fresh holder presentation is required."""

    code = "presentation_required"


class MissingKeyBinding(PresentationRequired):
    """The SD-JWT VC presentation carries no KB-JWT (holder binding) where one is required."""

    code = "missing_key_binding"


class SdHashMismatch(PresentationError):
    """The KB-JWT's ``sd_hash`` is not the digest of this presentation (disclosures changed
    after the holder signed)."""

    code = "sd_hash_mismatch"


class WrongAudience(ChallengeMismatch):
    """The KB-JWT is addressed to another verifier (``aud``)."""

    code = "wrong_audience"


# --- codes: citizen ID numbers, credit codes, licence identifiers --------------------------------
class InvalidCode(CredentialError):
    """A code (ID number, credit code, licence identifier) is not valid.

    ``reason`` names the part that is wrong (``length``, ``check``, a segment, ...).
    """

    code = "invalid_code"

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(detail)


class InvalidIdNumber(InvalidCode):
    """The resident identity number is not valid."""

    code = "invalid_id_number"


class InvalidCreditCode(InvalidCode):
    """The unified social credit code (GB 32100) is not valid."""

    code = "invalid_credit_code"


class InvalidLicenceIdentifier(InvalidCode):
    """The licence identifier (GB/T 36904) is not valid."""

    code = "invalid_licence_identifier"
