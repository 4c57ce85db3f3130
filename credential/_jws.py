"""Compact JWS (RFC 7515) with ES256, EdDSA or SM2, for status-list and trust-list tokens.

Why by hand beside joserfc (which the wallet uses for OpenID Connect tokens): not for speed.
``benchmarks/verify.py --compare-jws`` checks one trust-list token (764 characters) and one
status-list token (557) here and with ``joserfc.jws.deserialize_compact``: 1,044K and 1,006K
instructions per check here against 1,111K and 1,075K with joserfc under callgrind (both mostly
the ES256 verification), and 170-442 us against 225-669 us per check on a busy 2-core machine; a
token is checked once per sync, so either would do. It stays because:

- signing goes through the ``Signer`` protocol (``alg``, ``kid``, ``sign(data)``), so a key in an
  HSM or a remote signing service signs status lists and trust lists as it signs credentials;
  joserfc signs with its own key objects, which hold the private key in the process;
- ``credential`` is what an offline counter runs and imports only the standard library, cbor2 and
  cryptography (the import table of DESIGN.md); this module is those few lines over the same
  ``verify_raw`` the COSE signatures use;
- joserfc has no SM2 (the national algorithm, "SM2" here: docs/wire-format.md section 13).
"""

from __future__ import annotations

import json
import json.scanner
from dataclasses import dataclass
from typing import Any

from ._frozen import frozen_builder
from ._keyformat import (
    COSE_ALG,
    PublicKey,
    Signer,
    algorithms_text,
    b64url,
    b64url_decode,
    kid_text,
)
from ._signature import verify_raw
from .errors import BadSignature, MalformedPayload, MalformedToken, UnsupportedAlgorithm

MAX_TOKEN_CHARS = 8 * 1024 * 1024

_scan_json = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # typeshed


def json_loads(text: str) -> Any:
    """``json.loads`` for the compact JSON of tokens and disclosures, through the json module's
    own C scanner without the Python steps around it (white-space matching, a second call):
    0.9 us against 3.5 us for a 46-character disclosure (timeit, best of 5 x 50,000, on a busy
    2-core machine); an SD-JWT VC presentation parses five or more such texts. Text with white
    space around the value, or anything the scanner refuses, goes to ``json.loads``, so the
    value and the errors are always ``json.loads``'s."""
    try:
        value, end = _scan_json(text, 0)
    except (StopIteration, ValueError):
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


@dataclass(frozen=True, slots=True)
class UnverifiedJws:
    """A parsed compact JWS whose signature has not been checked yet."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        return str(self.header["alg"])

    @property
    def kid(self) -> str | None:
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None

    def verify(self, public_key: PublicKey) -> None:
        """Raises ``BadSignature`` or ``UnsupportedAlgorithm``."""
        if not verify_raw(public_key, self.alg, self.signature, self.signing_input):
            raise BadSignature()


_new_jws = frozen_builder(UnverifiedJws)  # two per SD-JWT VC presentation: _frozen.py


def _json_b64(obj: dict[str, Any]) -> str:
    return b64url(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def sign_jws(payload: dict[str, Any], signer: Signer, *, typ: str) -> str:
    """Sign ``payload`` as a compact JWS with ``kid`` and ``typ`` in the header."""
    header = {"alg": signer.alg, "kid": kid_text(signer.kid), "typ": typ}
    signing_input = f"{_json_b64(header)}.{_json_b64(payload)}"
    return f"{signing_input}.{b64url(signer.sign(signing_input.encode('ascii')))}"


# Parsed protected headers by their base64url text. A verifier sees the same few headers again and
# again (one per issuer key and algorithm, and each wallet's KB-JWT header), so a header is
# decoded once; only small headers are kept, and the cache starts over when full. The dicts are
# shared: nothing may change ``UnverifiedJws.header``.
_HEADER_CACHE_SIZE = 256
_MAX_CACHED_HEADER = 512
_headers: dict[str, Any] = {}


def _decode_header(segment: str) -> Any:
    header = _headers.get(segment)
    if header is None:
        header = json_loads(b64url_decode(segment).decode("utf-8"))
        if len(segment) <= _MAX_CACHED_HEADER and isinstance(header, dict):
            if len(_headers) >= _HEADER_CACHE_SIZE:
                _headers.clear()
            _headers[segment] = header
    return header


def parse_jws(token: str) -> UnverifiedJws:
    """Parse a compact JWS whatever its ``typ`` (the caller checks it).

    Raises ``MalformedToken`` or ``UnsupportedAlgorithm``.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise MalformedToken("token must be text of sane size")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise MalformedToken("a compact JWS has three parts")
    try:  # JWS JSON is UTF-8 (RFC 7515 section 5.2); decoded here, not by json's detection
        header = _decode_header(parts[0])
        payload = json_loads(b64url_decode(parts[1]).decode("utf-8"))
        signature = b64url_decode(parts[2])
    except (MalformedPayload, ValueError, UnicodeDecodeError) as exc:
        raise MalformedToken("token parts are not base64url JSON") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise MalformedToken("token header and payload must be JSON objects")
    if header.get("alg") not in COSE_ALG:
        raise UnsupportedAlgorithm(f"alg missing or not allowed ({algorithms_text()} only)")
    if "crit" in header:
        raise MalformedToken("critical header parameters are not supported")
    return _new_jws(header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature)


def read_jws(token: str, *, typ: str) -> UnverifiedJws:
    """Parse a compact JWS of the given ``typ``.

    Raises ``MalformedToken`` or ``UnsupportedAlgorithm``.
    """
    jws = parse_jws(token)
    if jws.header.get("typ") != typ:
        raise MalformedToken(f"token typ must be {typ}")
    return jws
