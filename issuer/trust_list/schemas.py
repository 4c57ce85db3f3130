"""Response body of ``GET /root-key``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class RootKeyRead(BaseModel):
    """The platform root public key, which verifiers pin to check the trust list."""

    kid: str = Field(description="The key's id: base64url of 8 bytes", examples=["q0kIr9eTV3c"])
    alg: str = Field(description="The signature algorithm: ES256 or EdDSA", examples=["ES256"])
    jwk: dict[str, Any] = Field(
        description="The public key as a JWK (RFC 7517)",
        examples=[{"kty": "EC", "crv": "P-256", "x": "...", "y": "..."}],
    )
    thumbprint: str = Field(
        description="RFC 7638 SHA-256 thumbprint of the JWK, base64url: compare it when pinning",
        examples=["NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"],
    )
