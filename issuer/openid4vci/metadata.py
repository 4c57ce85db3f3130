"""What the credential issuer publishes: its OpenID4VCI metadata (one credential configuration
per licence type), the OAuth authorization server metadata of its token endpoint, the
``jwt-vc-issuer`` keys (draft-ietf-oauth-sd-jwt-vc section 5) and the type metadata behind each
``vct`` URL (section 6). Names of fields as OpenID4VCI 1.0 (section 12.2.4, appendix A.3) and
the SD-JWT VC draft spell them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from credential import (
    CLAIM_CATEGORIES,
    CLAIM_DEPARTMENT,
    CLAIM_FIELDS,
    CLAIM_HOLDER_NAME,
    CLAIM_LICENCE_NUMBER,
    CLAIM_LICENCE_TYPE,
    CLAIM_MASKED_ID,
    KeyState,
    vct_of,
)
from registry.models import Department, LicenceType, SigningKey
from registry.openid4vci import PRE_AUTHORIZED_GRANT, credential_configuration_id

from ..trust_list.service import trust_list_content

SD_JWT_VC_FORMAT = "dc+sd-jwt"
# What wallets may sign key proofs with (SM2 is no JOSE algorithm a third-party wallet knows:
# docs/wire-format.md section 16). Credentials are signed with the department's own key, whose
# algorithm each configuration names (SM2 for a deployment on national algorithms).
PROOF_ALGORITHMS = ("ES256", "EdDSA")
TOKEN_PATH = "/openid4vci/token"  # noqa: S105 (a path, not a secret)
NONCE_PATH = "/openid4vci/nonce"
CREDENTIAL_PATH = "/openid4vci/credential"
ZH, EN = "zh-CN", "en"

_ISSUER_DISPLAY = [
    {"name": "电子证照库", "locale": ZH},
    {"name": "E-licence registry", "locale": EN},
]
# (claim path, zh, en, selectively disclosable): the licence profile of wire-format section 16
_PROFILE_CLAIMS: tuple[tuple[str, str, str, bool], ...] = (
    (CLAIM_LICENCE_TYPE, "证照类型", "Licence type", False),
    (CLAIM_LICENCE_NUMBER, "证照编号", "Licence number", False),
    (CLAIM_DEPARTMENT, "发证机关", "Issuing department", False),
    (CLAIM_HOLDER_NAME, "持证人姓名", "Holder name", True),
    (CLAIM_MASKED_ID, "持证人身份号码(部分隐藏)", "Holder ID number (masked)", True),
    (CLAIM_CATEGORIES, "准驾车型/类别", "Categories", True),
)
_LATIN_PART = re.compile(r"[A-Za-z][A-Za-z0-9 .,'()/-]*[A-Za-z0-9.)]")


def _english_name(licence_type: LicenceType, department: Department) -> str:
    """A licence type's English display name: the Latin-letter part of its name (names such as
    "机动车驾驶证 Driving licence" carry both), else one made of its codes (the catalogue holds
    one name per type, in no stated language)."""
    match = _LATIN_PART.search(licence_type.name)
    if match is not None and len(match.group()) >= 3:
        return match.group()
    return f"Licence {licence_type.code} ({department.code})"


def _chinese_name(licence_type: LicenceType) -> str:
    latin = _LATIN_PART.search(licence_type.name)
    if latin is None:
        return licence_type.name
    rest = (licence_type.name[: latin.start()] + licence_type.name[latin.end() :]).strip()
    return rest or licence_type.name


@dataclass(frozen=True, slots=True)
class OfferedType:
    """A licence type as a credential configuration, and the algorithms of the department's
    active keys (what its credentials are signed with)."""

    configuration_id: str
    vct: str
    licence_type: LicenceType
    department: Department
    signing_algorithms: tuple[str, ...]


def offered_types(*, session: Session, base_url: str) -> list[OfferedType]:
    """Every licence type, each one credential configuration, ordered by id."""
    rows = session.execute(
        select(LicenceType, Department)
        .join(Department, LicenceType.department_id == Department.id)
        .order_by(Department.code, LicenceType.code)
    ).all()
    algorithms: dict[int | None, set[str]] = {}  # None: the platform root key
    active = select(SigningKey.department_id, SigningKey.alg).where(
        SigningKey.state == KeyState.ACTIVE
    )
    for department_id, alg in session.execute(active):
        algorithms.setdefault(department_id, set()).add(alg)
    return [
        OfferedType(
            credential_configuration_id(department.code, licence_type.code),
            vct_of(base_url, department.code, licence_type.code),
            licence_type,
            department,
            tuple(sorted(algorithms.get(department.id, ()))),
        )
        for licence_type, department in rows
    ]


def _claims(offered: OfferedType) -> list[tuple[list[str], list[dict[str, str]], bool]]:
    """(path, display, selectively disclosable) of every claim of the type's credentials."""
    claims = [
        ([name], [{"name": zh, "locale": ZH}, {"name": en, "locale": EN}], sd)
        for name, zh, en, sd in _PROFILE_CLAIMS
        if name != CLAIM_CATEGORIES or offered.licence_type.categories
    ]
    for spec in offered.licence_type.fields:
        label = spec.get("label") or spec["name"]
        # the catalogue holds one label per field; English gets the field's name in words
        english = spec["name"].replace("_", " ").capitalize()
        display = [{"name": label, "locale": ZH}, {"name": english, "locale": EN}]
        claims.append(([CLAIM_FIELDS, spec["name"]], display, True))
    return claims


def credential_configuration(offered: OfferedType) -> dict[str, Any]:
    """One entry of ``credential_configurations_supported`` (OpenID4VCI 1.0 appendix A.3)."""
    department, licence_type = offered.department, offered.licence_type
    display = [
        {
            "name": _chinese_name(licence_type),
            "locale": ZH,
            "description": f"{department.name} 签发的电子证照",
        },
        {
            "name": _english_name(licence_type, department),
            "locale": EN,
            "description": f"Electronic licence issued by {department.name}",
        },
    ]
    return {
        "format": SD_JWT_VC_FORMAT,
        "vct": offered.vct,
        "scope": offered.configuration_id,
        "cryptographic_binding_methods_supported": ["jwk"],
        "credential_signing_alg_values_supported": list(offered.signing_algorithms),
        "proof_types_supported": {
            "jwt": {"proof_signing_alg_values_supported": list(PROOF_ALGORITHMS)}
        },
        "credential_metadata": {
            "display": display,
            "claims": [
                {"path": path, "mandatory": not sd or path[0] == CLAIM_HOLDER_NAME, "display": d}
                for path, d, sd in _claims(offered)
            ],
        },
    }


def credential_issuer_metadata(*, session: Session, base_url: str) -> dict[str, Any]:
    """``/.well-known/openid-credential-issuer`` (OpenID4VCI 1.0 section 12.2)."""
    return {
        "credential_issuer": base_url,
        "credential_endpoint": base_url + CREDENTIAL_PATH,
        "nonce_endpoint": base_url + NONCE_PATH,
        "display": _ISSUER_DISPLAY,
        "credential_configurations_supported": {
            offered.configuration_id: credential_configuration(offered)
            for offered in offered_types(session=session, base_url=base_url)
        },
    }


def authorization_server_metadata(base_url: str) -> dict[str, Any]:
    """``/.well-known/oauth-authorization-server`` (RFC 8414): the credential issuer is its own
    authorization server, with the pre-authorized code grant only and anonymous wallets."""
    return {
        "issuer": base_url,
        "token_endpoint": base_url + TOKEN_PATH,
        "grant_types_supported": [PRE_AUTHORIZED_GRANT],
        "token_endpoint_auth_methods_supported": ["none"],
        "pre-authorized_grant_anonymous_access_supported": True,
    }


def jwt_vc_issuer_metadata(*, session: Session, base_url: str) -> dict[str, Any]:
    """``/.well-known/jwt-vc-issuer`` (draft-ietf-oauth-sd-jwt-vc section 5): the departments'
    public keys as a JWK set, taken from the very content the signed trust list carries
    (``trust_list_content``), with the trust list's ``kid`` and ``alg``. A compromised key is
    left out: the trust list marks it so, and a JWK set has no way to say it."""
    keys = [
        {**key["jwk"], "kid": key["kid"], "alg": key["alg"], "use": "sig"}
        for department in trust_list_content(session=session)
        for key in department["keys"]
        if key["state"] != KeyState.COMPROMISED
    ]
    return {"issuer": base_url, "jwks": {"keys": keys}}


def type_metadata(offered: OfferedType) -> dict[str, Any]:
    """The SD-JWT VC type metadata at the ``vct`` URL (draft-ietf-oauth-sd-jwt-vc section 6)."""
    configuration = credential_configuration(offered)
    display = configuration["credential_metadata"]["display"]
    return {
        "vct": offered.vct,
        "name": display[1]["name"],
        "description": display[1]["description"],
        "display": [
            {"locale": d["locale"], "name": d["name"], "description": d["description"]}
            for d in display
        ],
        "claims": [
            {
                "path": path,
                "display": [{"locale": x["locale"], "label": x["name"]} for x in d],
                "sd": "allowed" if sd else "always",
            }
            for path, d, sd in _claims(offered)
        ],
    }
