"""Revoke, suspend, reinstate, correct (item 4) and the served status list (item 5)."""

from __future__ import annotations

import base64
import json
import random
import zlib
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jws
from joserfc.jwk import ECKey
from sqlalchemy import select

from credential import decode_qr, read_credential, read_jws, read_status_list_token
from registry.errors import Conflict
from registry.models import AuditEntry, Department, Licence
from tests._races import second_waits_for_first
from tests.issuer.conftest import Issuer, _running, bearer


def _setup(issuer: Issuer) -> str:
    key = issuer.department("TRANSPORT")
    issuer.licence_type("TRANSPORT")
    return key


def _act(issuer: Issuer, key: str, licence_id: str, act: str, reason: str) -> object:
    return issuer.client.post(
        f"/issuer/licences/{licence_id}/{act}", json={"reason": reason}, headers=bearer(key)
    )


def _department_jwk(issuer: Issuer, kid: str) -> dict[str, object]:
    payload = read_jws(issuer.client.get("/trust-list").text, typ="trustlist+jwt").payload
    keys = [k for d in payload["departments"] for k in d["keys"]]
    return next(k["jwk"] for k in keys if k["kid"] == kid)


def _status_via_codec(issuer: Issuer, licence: dict[str, object]) -> int:
    r = issuer.client.get(f"/status-lists/{licence['status_list']}")
    assert r.status_code == 200
    token = read_status_list_token(r.text)
    return token.status_list.get(int(licence["status_index"]))  # type: ignore[call-overload]


def test_revoke_suspend_reinstate_change_the_very_next_status_fetch(issuer_any: Issuer) -> None:
    issuer = issuer_any
    key = _setup(issuer)
    licence = issuer.issue(key)
    assert _status_via_codec(issuer, licence) == 0
    r = _act(issuer, key, licence["id"], "suspend", "investigation")
    assert r.status_code == 200 and r.json()["status"] == "suspended"  # type: ignore[attr-defined]
    assert _status_via_codec(issuer, licence) == 2
    r = _act(issuer, key, licence["id"], "reinstate", "investigation_closed")
    assert r.json()["status"] == "valid"  # type: ignore[attr-defined]
    assert _status_via_codec(issuer, licence) == 0
    r = _act(issuer, key, licence["id"], "revoke", "fraud")
    assert r.json()["status"] == "revoked"  # type: ignore[attr-defined]
    assert _status_via_codec(issuer, licence) == 1
    with issuer.session() as session:
        acts = session.scalars(
            select(AuditEntry.act)
            .where(AuditEntry.object_id == licence["id"])
            .order_by(AuditEntry.id)
        ).all()
        reasons = [
            e.detail["reason"]  # type: ignore[index]
            for e in session.scalars(
                select(AuditEntry).where(
                    AuditEntry.object_id == licence["id"], AuditEntry.act != "licence.issue"
                )
            )
        ]
    assert acts == ["licence.issue", "licence.suspend", "licence.reinstate", "licence.revoke"]
    assert reasons == ["investigation", "investigation_closed", "fraud"]


def test_revoking_twice_and_reinstating_a_revoked_licence_are_conflicts(issuer: Issuer) -> None:
    key = _setup(issuer)
    licence = issuer.issue(key)
    assert _act(issuer, key, licence["id"], "revoke", "holder_request").status_code == 200  # type: ignore[attr-defined]
    audit = issuer.audit_count()
    for act, reason in (
        ("revoke", "fraud"),
        ("reinstate", "issued_in_error"),
        ("suspend", "other"),
    ):
        r = _act(issuer, key, licence["id"], act, reason)
        assert r.status_code == 409, act  # type: ignore[attr-defined]
        assert r.json()["error"] == "conflict"  # type: ignore[attr-defined]
    assert issuer.audit_count() == audit
    valid = issuer.issue(key)
    assert _act(issuer, key, valid["id"], "reinstate", "other").status_code == 409  # type: ignore[attr-defined]
    bad_reason = _act(issuer, key, valid["id"], "revoke", "because")
    assert bad_reason.status_code == 422  # type: ignore[attr-defined]


def test_correction_issues_a_linked_licence_and_revokes_the_old_one(issuer_any: Issuer) -> None:
    issuer = issuer_any
    key = _setup(issuer)
    old = issuer.issue(key)
    r = issuer.client.post(
        f"/issuer/licences/{old['id']}/correct",
        json={"reason": "name_change", "holder_name": "张三丰", "categories": ["B1", "C1"]},
        headers=bearer(key),
    )
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["id"] != old["id"] and new["number"] != old["number"]
    assert new["replaces"] == old["id"]
    assert new["holder_name"] == "张三丰" and new["categories"] == ["B1", "C1"]
    assert new["fields"] == old["fields"]
    assert new["masked_id"] == old["masked_id"]
    claims = read_credential(decode_qr(new["static_qr"]).credential).claims
    assert claims.licence.holder_name == "张三丰"
    old_now = issuer.client.get(f"/issuer/licences/{old['id']}", headers=bearer(key)).json()
    assert old_now["status"] == "revoked" and old_now["replaced_by"] == new["id"]
    assert _status_via_codec(issuer, old) == 1
    assert _status_via_codec(issuer, new) == 0
    with issuer.session() as session:
        row = session.get(Licence, old["id"])
        assert row is not None and row.status_reason == "superseded"
        acts = session.scalars(select(AuditEntry.act).order_by(AuditEntry.id)).all()
    assert acts[-2:] == ["licence.correct", "licence.revoke"]
    again = issuer.client.post(
        f"/issuer/licences/{old['id']}/correct", json={"reason": "other"}, headers=bearer(key)
    )
    assert again.status_code == 409


def test_status_list_token_checked_independently_with_joserfc_and_zlib(issuer: Issuer) -> None:
    key = _setup(issuer)
    licences = [
        issuer.issue(key, id_number=i) for i in ("11010519491231002X", "440524188001010014")
    ]
    _act(issuer, key, licences[0]["id"], "revoke", "fraud")
    _act(issuer, key, licences[1]["id"], "suspend", "unpaid_fee")
    r = issuer.client.get(f"/status-lists/{licences[0]['status_list']}")
    assert r.headers["content-type"] == "application/statuslist+jwt"
    assert r.headers["cache-control"] == "public, max-age=300"
    token = r.text
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["typ"] == "statuslist+jwt" and header["alg"] == "ES256"
    jwk = _department_jwk(issuer, licences[0]["kid"])
    assert header["kid"] == licences[0]["kid"]
    verified = jws.deserialize_compact(token, ECKey.import_key(jwk), algorithms=["ES256"])
    payload = json.loads(verified.payload)
    assert payload["sub"] == licences[0]["status_list"]
    assert payload["ttl"] == 300 and payload["exp"] > payload["iat"]
    raw = zlib.decompress(base64.urlsafe_b64decode(payload["status_list"]["lst"] + "=="))
    assert payload["status_list"]["bits"] == 2 and len(raw) * 4 >= 131072

    def bits(index: int) -> int:
        return (raw[index // 4] >> (index % 4 * 2)) & 0b11

    assert bits(licences[0]["status_index"]) == 1
    assert bits(licences[1]["status_index"]) == 2
    assert sum(1 for b in raw for s in range(4) if (b >> (2 * s)) & 3) == 2
    # The same signature checked with plain cryptography too.
    signing_input, _, signature = token.rpartition(".")
    sig = base64.urlsafe_b64decode(signature + "==")
    public = ECKey.import_key(jwk).get_op_key("verify")
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    public.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))


def test_status_list_etag_and_not_modified(issuer: Issuer) -> None:
    key = _setup(issuer)
    licence = issuer.issue(key)
    url = f"/status-lists/{licence['status_list']}"
    first = issuer.client.get(url)
    etag = first.headers["etag"]
    same = issuer.client.get(url, headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b""
    _act(issuer, key, licence["id"], "revoke", "fraud")
    changed = issuer.client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert read_status_list_token(changed.text).status_list.get(licence["status_index"]) == 1
    assert issuer.client.get("/status-lists/999").status_code == 404
    assert issuer.client.get("/status-lists/abc").status_code == 422


def test_a_status_change_sets_exactly_its_entry_on_both_databases(issuer_any: Issuer) -> None:
    # PostgreSQL sets an entry's bits in SQL, SQLite in Python: both must leave the list as the
    # token codec reads it, every entry of a byte independent of its neighbours.
    from credential import StatusList as StatusBits
    from issuer.status_lists.service import set_status
    from registry.errors import ServiceError
    from registry.models import LicenceStatus, StatusList

    codes = [LicenceStatus.VALID, LicenceStatus.REVOKED, LicenceStatus.SUSPENDED]
    expected = StatusBits(2, 64)
    draws = random.Random(36904)
    issuer_any.department("TRANSPORT")
    with issuer_any.database.writing() as session:
        department_id = session.scalars(select(Department.id)).one()
        listed = StatusList(department_id=department_id, bits=2, size=64, data=bytes(16))
        session.add(listed)
        session.flush()
        list_id = listed.id
    for _ in range(300):
        index, status = draws.randrange(64), draws.choice(codes)
        with issuer_any.database.writing() as session:
            licence = Licence(status_list_id=list_id, status_index=index)
            set_status(session=session, licence=licence, status=status)
        expected.set(index, status.code)
    with issuer_any.database.reading() as session:
        stored = session.get(StatusList, list_id)
        assert stored is not None
        assert stored.data == expected.to_bytes()
        assert stored.version == 301
    with pytest.raises(ServiceError), issuer_any.database.writing() as session:
        outside = Licence(status_list_id=list_id, status_index=64)
        set_status(session=session, licence=outside, status=LicenceStatus.REVOKED)
    with issuer_any.database.reading() as session:
        assert session.get(StatusList, list_id).data == expected.to_bytes()  # type: ignore[union-attr]


@pytest.fixture
def issuer_pg(postgres_url: str, tmp_path: Path) -> Iterator[Issuer]:
    """The issuer on PostgreSQL only."""
    from registry.migrate import upgrade

    upgrade(postgres_url)
    yield from _running(postgres_url, tmp_path)


@pytest.mark.postgres
def test_a_suspension_racing_a_revocation_waits_for_it_and_is_refused(issuer_pg: Issuer) -> None:
    # Two departments' clerks act on one licence at once (PostgreSQL: writers run side by side).
    # The second change must see the first's outcome: a revoked licence is never suspended (and
    # so never reinstated), and its list entry stays revoked.
    from issuer.auth import authenticate_department
    from issuer.revocation import service

    issuer = issuer_pg
    key = _setup(issuer)
    licence = issuer.issue(key)
    with issuer.database.reading() as session:
        caller = authenticate_department(session=session, authorization=f"Bearer {key}")

    change = partial(service.change_status, caller=caller, licence_id=licence["id"], note=None)
    _, suspended = second_waits_for_first(
        issuer.database,
        partial(change, verb="revoke", reason="fraud"),
        partial(change, verb="suspend", reason="investigation"),
    )
    assert isinstance(suspended, Conflict)
    assert "revoked" in str(suspended)
    with issuer.database.reading() as session:
        assert session.get(Licence, licence["id"]).status == "revoked"  # type: ignore[union-attr]
    assert _status_via_codec(issuer, licence) == 1
    with issuer.database.reading() as session:
        acts = session.scalars(select(AuditEntry.act).order_by(AuditEntry.id)).all()
    assert acts.count("licence.revoke") == 1
    assert "licence.suspend" not in acts


@pytest.mark.postgres
def test_two_key_rotations_at_once_leave_one_active_key(issuer_pg: Issuer) -> None:
    # Two administrators rotate one department's key at once: the second retires the first's
    # new key too, so the trust list never lists two active keys of a department.
    from issuer.departments import service as departments
    from registry.models import KeyState, SigningKey

    issuer = issuer_pg
    _setup(issuer)
    rotate = partial(
        departments.rotate_key,
        department_code="TRANSPORT",
        actor="admin:test",
        key_secret=issuer.client.app.state.context.key_secret,  # type: ignore[attr-defined]
    )
    assert second_waits_for_first(issuer.database, rotate, rotate) == ("done", "done")
    with issuer.database.reading() as session:
        states = session.scalars(
            select(SigningKey.state).where(SigningKey.department_id.is_not(None))
        ).all()
    assert sorted(states) == sorted([KeyState.ACTIVE, KeyState.RETIRED, KeyState.RETIRED])


@pytest.mark.postgres
def test_one_key_compromised_twice_at_once_gets_one_replacement(issuer_pg: Issuer) -> None:
    from issuer.departments import service as departments
    from registry.models import KeyState, SigningKey

    issuer = issuer_pg
    _setup(issuer)
    with issuer.database.reading() as session:
        kid = session.scalars(
            select(SigningKey.kid).where(SigningKey.department_id.is_not(None))
        ).one()
    compromise = partial(
        departments.compromise_key,
        department_code="TRANSPORT",
        kid=kid,
        actor="admin:test",
        key_secret=issuer.client.app.state.context.key_secret,  # type: ignore[attr-defined]
    )
    _, second = second_waits_for_first(issuer.database, compromise, compromise)
    assert isinstance(second, Conflict) and "already marked compromised" in str(second)
    with issuer.database.reading() as session:
        states = session.scalars(
            select(SigningKey.state).where(SigningKey.department_id.is_not(None))
        ).all()
        acts = session.scalars(select(AuditEntry.act).where(AuditEntry.act.like("key.%"))).all()
    assert sorted(states) == sorted([KeyState.ACTIVE, KeyState.COMPROMISED])
    assert sorted(acts) == ["key.compromise", "key.create", "key.create"]
