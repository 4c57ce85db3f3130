"""Verification of e-licence QR payloads and SD-JWT VC presentations: works offline from a synced
bundle, with no database.

Public interface:

- ``verify_payload(text, *, trust, status, now, policy, challenge=None, audience=None,
  credential_issuer=None) -> VerificationResult`` (a text with ``~`` is an SD-JWT VC)
- ``Policy``, ``VerificationResult``, ``Check``, ``LicenceShown``
- sources: ``TrustSource`` / ``StatusSource`` protocols, ``StatusSnapshot``, ``FixedTrust``,
  ``TokenTrustSource``, ``TokenStatusSource``, ``read_status_snapshot``
- bundle: ``Bundle.load(dir)`` (``.credential_issuer``), ``sync_bundle(...)``, ``BundleError``,
  ``root_thumbprint``
- ``verifier.api`` (FastAPI, imported on demand): ``verify_router``, ``VerifierContext``,
  ``create_app(bundle_dir)``; ``verifier.cli``: ``verify_command``, ``verifier_app``.
"""

from . import _compiled  # noqa: F401  (first: refuses a stale compiled module)
from ._sources import (
    FixedTrust,
    StatusSnapshot,
    StatusSource,
    TokenStatusSource,
    TokenTrustSource,
    TrustSource,
    read_status_snapshot,
)
from ._verify import Check, LicenceShown, Policy, VerificationResult, verify_payload
from .bundle import Bundle, BundleError, SyncReport, load_root_key, root_thumbprint, sync_bundle

__all__ = [
    "Bundle",
    "BundleError",
    "Check",
    "FixedTrust",
    "LicenceShown",
    "Policy",
    "StatusSnapshot",
    "StatusSource",
    "SyncReport",
    "TokenStatusSource",
    "TokenTrustSource",
    "TrustSource",
    "VerificationResult",
    "load_root_key",
    "read_status_snapshot",
    "root_thumbprint",
    "sync_bundle",
    "verify_payload",
]
