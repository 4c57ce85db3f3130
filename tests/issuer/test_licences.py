"""Issuance (item 2) and look-up (item 3) through the HTTP API."""

from __future__ import annotations

import datetime as dt
import threading

import cbor2
from sqlalchemy import select

from credential import (
    cose_key_to_public_key,
    decode_qr,
    jwk_to_public_key,
    kid_for,
    read_credential,
    verify_raw,
)
from registry.holder_keys import HolderKeyBox, load_holder_signer
from registry.models import AuditEntry, HolderKey, Licence
from tests.issuer.conftest import VALID_IDS, Issuer, bearer, licence_body


def _setup(issuer: Issuer, code: str = "TRANSPORT") -> str:
    key = issuer.department(code)
    issuer.licence_type(code)
    return key


def test_issue_signs_a_credential_that_verifies_with_the_departments_key(
    issuer_any: Issuer,
) -> None:
    issuer = issuer_any
    key = _setup(issuer)
    body = issuer.issue(key)
    assert body["number"].startswith("TRANSPORT-DRIVING-")
    assert body["masked_id"] == "110105********002X"
    assert body["status"] == "valid"
    payload = decode_qr(body["static_qr"])
    assert payload.kind == "static"
    credential = read_credential(payload.credential)
    departments = issuer.client.get("/issuer/admin/departments", headers=issuer.admin).json()
    assert credential.kid == _kid_bytes(departments[0]["active_kid"])
    with issuer.session() as session:
        licence = session.get(Licence, body["id"])
        assert licence is not None
        key_row = licence.kid
    jwk = _department_jwk(issuer, "TRANSPORT", key_row)
    credential.verify_signature(jwk_to_public_key(jwk))
    claims = credential.claims
    assert claims.issuer == "TRANSPORT"
    assert claims.licence.type_code == "DRIVING"
    assert claims.licence.number == body["number"]
    assert claims.licence.holder_name == "张三"
    assert claims.licence.masked_id == "110105********002X"
    assert claims.licence.categories == ("B1",)
    assert claims.licence.fields == {"licence_class": "B", "first_issued": "2020-05-01"}
    assert claims.status.uri == body["status_list"]
    assert claims.status.index == body["status_index"]
    assert len(claims.credential_id) == 8
    assert claims.expires_at - claims.not_before == 3650 * 86400
    assert dt.datetime.fromisoformat(body["valid_until"]).timestamp() == claims.expires_at


def _kid_bytes(text: str) -> bytes:
    from credential import b64url_decode

    return b64url_decode(text)


def _department_jwk(issuer: Issuer, code: str, kid: str) -> dict[str, object]:
    from credential import read_jws

    token = issuer.client.get("/trust-list").text
    payload = read_jws(token, typ="trustlist+jwt").payload
    department = next(d for d in payload["departments"] if d["code"] == code)
    return next(k["jwk"] for k in department["keys"] if k["kid"] == kid)


def test_holder_key_is_created_once_per_citizen_and_signs_for_the_wallet(
    issuer_any: Issuer,
) -> None:
    issuer = issuer_any
    key = _setup(issuer)
    first = issuer.issue(key)
    second = issuer.issue(key, fields={"licence_class": "A", "first_issued": "2021-01-01"})
    other = issuer.issue(key, id_number=VALID_IDS[1], holder_name="李四")
    holder = [
        read_credential(decode_qr(b["static_qr"]).credential).claims.holder_key
        for b in (first, second, other)
    ]
    assert holder[0].public_numbers() == holder[1].public_numbers()
    assert holder[0].public_numbers() != holder[2].public_numbers()
    assert issuer.count(HolderKey) == 2
    state = issuer.client.app.state  # type: ignore[attr-defined]
    box = HolderKeyBox(state.context.key_secret)
    with issuer.session() as session:
        id_index = session.scalar(select(Licence.id_index).where(Licence.id == first["id"]))
        assert id_index is not None
        signer = load_holder_signer(session=session, box=box, id_index=id_index)
        stored = session.scalar(
            select(HolderKey.public_cose_key).where(HolderKey.id_index == id_index)
        )
        row = session.scalars(select(HolderKey)).first()
        assert row is not None and b"-----BEGIN" not in row.encrypted_private_key
    assert stored is not None
    assert (
        cose_key_to_public_key(cbor2.loads(stored)).public_numbers() == holder[0].public_numbers()
    )
    assert signer.kid == kid_for(holder[0])
    assert verify_raw(holder[0], "ES256", signer.sign(b"challenge"), b"challenge")


def test_issue_stores_blind_index_and_ciphertext_never_the_id_number(issuer: Issuer) -> None:
    key = _setup(issuer)
    body = issuer.issue(key)
    with issuer.session() as session:
        licence = session.get(Licence, body["id"])
        assert licence is not None
        assert VALID_IDS[0] not in licence.id_index
        assert VALID_IDS[0].encode() not in licence.id_ciphertext
        state = issuer.client.app.state  # type: ignore[attr-defined]
        assert state.context.vault.decrypt(licence.id_ciphertext) == VALID_IDS[0]
        entry = session.scalars(select(AuditEntry).where(AuditEntry.act == "licence.issue")).one()
        assert entry.object_id == body["id"]
        assert entry.actor.startswith("department:TRANSPORT/key:")
        assert VALID_IDS[0] not in str(entry.detail)
        assert entry.detail is not None and entry.detail["masked_id"] == "110105********002X"


def test_idempotency_key_returns_the_first_licence(issuer_any: Issuer) -> None:
    issuer = issuer_any
    key = _setup(issuer)
    headers = {**bearer(key), "Idempotency-Key": "req-42"}
    first = issuer.client.post("/issuer/licences", json=licence_body(), headers=headers)
    again = issuer.client.post("/issuer/licences", json=licence_body(), headers=headers)
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["static_qr"] == first.json()["static_qr"]
    assert issuer.count(Licence) == 1
    other = issuer.client.post(
        "/issuer/licences", json=licence_body(id_number=VALID_IDS[1]), headers=headers
    )
    assert other.status_code == 409
    fresh = issuer.client.post(
        "/issuer/licences",
        json=licence_body(),
        headers={**bearer(key), "Idempotency-Key": "req-43"},
    )
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]


def test_status_indices_are_random_and_distinct(issuer: Issuer) -> None:
    key = _setup(issuer)
    indices = [issuer.issue(key)["status_index"] for _ in range(20)]
    assert len(set(indices)) == 20
    assert max(indices) > 1000  # not sequential from zero
    assert indices != sorted(indices)


def test_explicit_validity_is_signed_as_nbf_and_exp(issuer: Issuer) -> None:
    key = _setup(issuer)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=30)
    body = issuer.issue(key, valid_from=start.isoformat(), valid_until=end.isoformat())
    claims = read_credential(decode_qr(body["static_qr"]).credential).claims
    assert claims.not_before == int(start.timestamp())
    assert claims.expires_at == int(end.timestamp())


def test_read_own_licence_and_search_by_id_number_in_body(issuer: Issuer) -> None:
    key = _setup(issuer)
    first = issuer.issue(key)
    issuer.issue(key, id_number=VALID_IDS[1])
    r = issuer.client.get(f"/issuer/licences/{first['id']}", headers=bearer(key))
    assert r.status_code == 200 and r.json()["number"] == first["number"]
    assert VALID_IDS[0] not in r.text
    found = issuer.client.post(
        "/issuer/licences/search", json={"id_number": VALID_IDS[0].lower()}, headers=bearer(key)
    )
    assert found.status_code == 200
    assert [lic["id"] for lic in found.json()["licences"]] == [first["id"]]
    # the same body as the read by id (its masked ID number made from the number searched for)
    assert found.json()["licences"] == [r.json()]
    assert found.json()["licences"][0]["masked_id"] == "110105********002X"
    none = issuer.client.post(
        "/issuer/licences/search", json={"id_number": VALID_IDS[2]}, headers=bearer(key)
    )
    assert none.json() == {"licences": []}
    bad = issuer.client.post(
        "/issuer/licences/search", json={"id_number": "110105194912310021"}, headers=bearer(key)
    )
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_id_number"


def test_department_never_sees_another_departments_licences(issuer: Issuer) -> None:
    key_a = _setup(issuer, "TRANSPORT")
    key_b = _setup(issuer, "MARKET")
    licence_b = issuer.issue(key_b)
    r = issuer.client.get(f"/issuer/licences/{licence_b['id']}", headers=bearer(key_a))
    assert r.status_code == 404 and licence_b["number"] not in r.text
    found = issuer.client.post(
        "/issuer/licences/search", json={"id_number": VALID_IDS[0]}, headers=bearer(key_a)
    )
    assert found.json() == {"licences": []}


def test_concurrent_issuance_allocates_distinct_indices(issuer_any: Issuer) -> None:
    key = _setup(issuer_any)
    results: list[int] = []
    errors: list[str] = []

    def work(n: int) -> None:
        for i in range(5):
            r = issuer_any.client.post(
                "/issuer/licences",
                json=licence_body(id_number=VALID_IDS[(n + i) % 3]),
                headers=bearer(key),
            )
            if r.status_code == 201:
                results.append(r.json()["status_index"])
            else:
                errors.append(r.text)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 20 and len(set(results)) == 20
    assert issuer_any.count(HolderKey) == 3
    with issuer_any.session() as session:
        from registry.audit import verify_audit_chain

        assert verify_audit_chain(session).ok


def test_reads_do_not_wait_for_sqlite_writers(issuer: Issuer) -> None:
    """A read, whatever its method (GET, or POST for a search), neither takes nor waits for
    the write lock; a write waits until it is free."""
    from ..registry.test_database import another_writer, wait_for

    key = _setup(issuer)
    first = issuer.issue(key)
    results: dict[str, int] = {}

    def call(name: str, method: str, url: str, **kwargs: object) -> None:
        response = issuer.client.request(method, url, headers=bearer(key), **kwargs)  # type: ignore[arg-type]
        results[name] = response.status_code

    with another_writer(issuer.database.url):  # as if another process were writing right now
        call("read", "GET", f"/issuer/licences/{first['id']}")
        call("search", "POST", "/issuer/licences/search", json={"id_number": VALID_IDS[0]})
        assert results == {"read": 200, "search": 200}
        writer = threading.Thread(
            target=call,
            args=("write", "POST", "/issuer/licences"),
            kwargs={"json": licence_body(id_number=VALID_IDS[1])},
        )
        writer.start()
        wait_for(lambda: issuer.database.writes_waiting == 1)
        assert "write" not in results  # still queued behind the lock
    writer.join(10)
    assert results.get("write") == 201
