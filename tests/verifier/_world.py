"""A small real world for verifier tests: a platform root, departments with real keys in every
state, signed trust and status lists, holders, and credentials built with overrides."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from credential import (
    CredentialClaims,
    LicenceClaims,
    StatusList,
    StatusReference,
    encode_presentation_qr,
    encode_static_qr,
    kid_text,
    public_key_to_jwk,
    sign_credential,
    sign_holder_proof,
    sign_status_list_token,
    sign_trust_list,
)
from keys import LocalSigner, generate_signing_key
from verifier import FixedTrust, Policy, TokenStatusSource, VerificationResult, verify_payload

NOW = 1_800_000_000
DAY = 86_400
TRANSPORT, MARKET = "transport", "market"
STATUS_URI, MARKET_STATUS_URI = "12", "40"
STATUS_SIZE = 1024


def signer(alg: str = "ES256") -> LocalSigner:
    return LocalSigner(generate_signing_key(alg))


@dataclass
class KeySpec:
    signer: LocalSigner
    department: str
    not_before: int
    not_after: int | None
    state: str
    licence_types: list[str]

    def entry(self) -> dict[str, Any]:
        return {
            "kid": kid_text(self.signer.kid),
            "jwk": public_key_to_jwk(self.signer.public_key),
            "not_before": self.not_before,
            "not_after": self.not_after,
            "state": self.state,
            "licence_types": self.licence_types,
        }


@dataclass
class World:
    """Everything an issuer would publish, built from real keys."""

    root: LocalSigner = field(default_factory=signer)
    active: LocalSigner = field(default_factory=signer)
    eddsa: LocalSigner = field(default_factory=lambda: signer("EdDSA"))
    retired: LocalSigner = field(default_factory=signer)
    compromised: LocalSigner = field(default_factory=signer)
    permits_only: LocalSigner = field(default_factory=signer)
    market_key: LocalSigner = field(default_factory=signer)
    holder: LocalSigner = field(default_factory=signer)
    statuses: dict[str, StatusList] = field(default_factory=dict)
    trust_issued_at: int = NOW - 3600
    status_issued_at: int = NOW - 600

    def __post_init__(self) -> None:
        self.statuses.setdefault(STATUS_URI, StatusList(2, STATUS_SIZE))
        self.statuses.setdefault(MARKET_STATUS_URI, StatusList(2, STATUS_SIZE))
        self.keys = [
            KeySpec(self.active, TRANSPORT, NOW - 300 * DAY, None, "active", ["DL", "TP"]),
            KeySpec(self.eddsa, TRANSPORT, NOW - 300 * DAY, None, "active", ["DL"]),
            KeySpec(self.retired, TRANSPORT, NOW - 800 * DAY, NOW - 400 * DAY, "retired", ["DL"]),
            KeySpec(self.compromised, TRANSPORT, NOW - 300 * DAY, None, "compromised", ["DL"]),
            KeySpec(self.permits_only, TRANSPORT, NOW - 300 * DAY, None, "active", ["TP"]),
            KeySpec(self.market_key, MARKET, NOW - 300 * DAY, None, "active", ["BL", "DL"]),
        ]

    # --- published documents ------------------------------------------------------------------
    def trust_payload(self) -> dict[str, Any]:
        def keys_of(code: str) -> list[dict[str, Any]]:
            return [k.entry() for k in self.keys if k.department == code]

        return {
            "iss": "platform",
            "iat": self.trust_issued_at,
            "exp": self.trust_issued_at + 7 * DAY,
            "ttl": 3600,
            "departments": [
                {
                    "code": TRANSPORT,
                    "name": "Transport Bureau",
                    "licence_types": [
                        {"code": "DL", "name": "Driving licence"},
                        {"code": "TP", "name": "Transport permit"},
                    ],
                    "status_lists": [STATUS_URI],
                    "keys": keys_of(TRANSPORT),
                },
                {
                    "code": MARKET,
                    "name": "Market Regulator",
                    "licence_types": [{"code": "BL", "name": "Business licence"}],
                    "status_lists": [MARKET_STATUS_URI],
                    "keys": keys_of(MARKET),
                },
            ],
        }

    def trust_token(self, root: LocalSigner | None = None) -> str:
        return sign_trust_list(self.trust_payload(), root or self.root)

    def status_token(
        self,
        uri: str = STATUS_URI,
        *,
        signer: LocalSigner | None = None,
        issued_at: int | None = None,
        expires_at: int | None = None,
    ) -> str:
        iat = self.status_issued_at if issued_at is None else issued_at
        default_signer = self.active if uri == STATUS_URI else self.market_key
        return sign_status_list_token(
            self.statuses[uri],
            signer or default_signer,
            uri=uri,
            issued_at=iat,
            expires_at=iat + 7 * DAY if expires_at is None else expires_at,
            ttl=3600,
        )

    def trust(self) -> FixedTrust:
        from credential import read_trust_list

        return FixedTrust(read_trust_list(self.trust_token(), self.root.public_key))

    def sources(self, **status_tokens: str) -> tuple[FixedTrust, TokenStatusSource]:
        """Trust plus status sources; ``status_tokens`` override tokens by URI (``s12=...``)."""
        trust = self.trust()
        tokens = {STATUS_URI: self.status_token(), MARKET_STATUS_URI: self.status_token("40")}
        tokens.update({uri.removeprefix("s"): token for uri, token in status_tokens.items()})
        return trust, TokenStatusSource(tokens.get, trust)

    # --- credentials ----------------------------------------------------------------------------
    def claims(self, **overrides: Any) -> CredentialClaims:
        licence = LicenceClaims(
            type_code=overrides.pop("type_code", "DL"),
            number=overrides.pop("number", "DL-2026-000123"),
            holder_name=overrides.pop("holder_name", "王小明"),
            masked_id=overrides.pop("masked_id", "110105********002X"),
            categories=overrides.pop("categories", ("C1",)),
            fields=overrides.pop("fields", {"vehicle": "car"}),
        )
        base = CredentialClaims(
            issuer=TRANSPORT,
            issued_at=NOW - 30 * DAY,
            not_before=NOW - 30 * DAY,
            expires_at=NOW + 365 * DAY,
            credential_id=b"cred-0001-abcdef",
            holder_key=self.holder.public_key,
            status=StatusReference(STATUS_URI, 7),
            licence=licence,
        )
        return replace(base, **overrides)

    def credential(self, *, signer: LocalSigner | None = None, **overrides: Any) -> bytes:
        return sign_credential(self.claims(**overrides), signer or self.active)

    def static_qr(self, **kwargs: Any) -> str:
        return encode_static_qr(self.credential(**kwargs))

    def presentation_qr(
        self,
        credential: bytes | None = None,
        *,
        presented_at: int = NOW - 5,
        challenge: str | None = None,
        holder: LocalSigner | None = None,
    ) -> str:
        credential = credential if credential is not None else self.credential()
        proof = sign_holder_proof(
            credential, holder or self.holder, presented_at=presented_at, challenge=challenge
        )
        return encode_presentation_qr(credential, proof)

    def verify(
        self,
        text: str,
        *,
        policy: Policy | None = None,
        challenge: str | None = None,
        now: int = NOW,
        **status_tokens: str,
    ) -> VerificationResult:
        trust, status = self.sources(**status_tokens)
        return verify_payload(
            text,
            trust=trust,
            status=status,
            now=lambda: now,
            policy=policy or Policy(),
            challenge=challenge,
        )
