"""``elicence import --workers N`` (issue 13 item 9): worker processes check, encrypt and sign
the rows while the importing process writes them. What lands is what the one-process path
(``--workers 0``) stores: the same rows, rejects, counts, holder keys and audit entries, on
SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import cbor2
import pytest
from sqlalchemy import select

from credential import StatusList as StatusBits
from credential import cose_key_to_public_key, read_credential
from registry.models import AuditEntry, HolderKey, Licence, StatusList
from tests.issuer._import_files import citizen_id, licence_row, rows, write_csv
from tests.issuer.test_imports import World, _department_keys, _summary, make_world

BATCH = "4"


def _records() -> list[dict[str, Any]]:
    """40 rows in batches of 4 with every case the pool must get right. A citizen again in the
    next batch: the workers sign it (batches go ahead of the writes) with a fresh key pair
    before the one of the batch before is stored; the write finds the stored one and signs the
    row again with it."""
    records = list(rows(40))
    records[3] = licence_row(3, status="suspended", status_reason="points exceeded")
    records[4] = licence_row(4, status="revoked", status_reason="court order")
    records[5] = licence_row(5, id_number="110105491231002", points="")  # 15 digits
    records[6] = licence_row(6, id_number=citizen_id(0))  # citizen 0 again, the next batch
    records[9] = licence_row(9, id_number=citizen_id(8))  # citizen 8 again, the same batch
    records[10] = licence_row(10, id_number="110105194912310029")  # bad check character
    records[11] = licence_row(11, valid_until="2020-01-01")  # expired
    records[13] = licence_row(2)  # record key of row 2, same holder: already present
    records[14] = licence_row(1, id_number=citizen_id(14))  # row 1's key, another holder
    records[20] = licence_row(20, id_number=citizen_id(1000))  # holds a key from before
    records[21] = licence_row(21, id_number=citizen_id(1000), status="revoked", status_reason="x")
    records[30] = licence_row(30, licence_class="Z")  # not a choice
    records[31] = licence_row(31, id_number=citizen_id(26))  # citizen 26, the batch before
    return records


def _import(world: World, workers: int) -> dict[str, Any]:
    before = write_csv(world.tmp / "before.csv", [licence_row(1000)])
    assert _summary(world.imports(before, "--json", "--workers", str(workers)))["imported"] == 1
    source = write_csv(world.tmp / "licences.csv", _records())
    return _summary(
        world.imports(source, "--batch-size", BATCH, "--json", "--workers", str(workers))
    )


def _landed(world: World) -> list[tuple[Any, ...]]:
    """Every licence as the registry holds it, without what is random (ids, numbers, status
    indices, signatures), after checking its credential: signed by the department's key, for
    the citizen's one holder key, its status in the status list."""
    keys = _department_keys(world)
    vault = world.vault()
    database = world.database()
    landed = []
    try:
        with database.reading() as session:
            holder_keys = {
                row.id_index: cose_key_to_public_key(cbor2.loads(row.public_cose_key))
                for row in session.scalars(select(HolderKey))
            }
            licences = session.scalars(select(Licence).order_by(Licence.record_key)).all()
            assert set(holder_keys) == {licence.id_index for licence in licences}
            for licence in licences:
                credential = read_credential(licence.credential)
                credential.verify_signature(keys[licence.kid])
                claims = credential.claims
                assert claims.holder_key == holder_keys[licence.id_index]
                assert claims.status.index == licence.status_index
                assert claims.licence.number == licence.number
                listed = session.get(StatusList, licence.status_list_id)
                assert listed is not None
                bits = StatusBits(listed.bits, listed.size, listed.data)
                code = {"valid": 0, "revoked": 1, "suspended": 2}[licence.status]
                assert bits.get(licence.status_index) == code
                id_number = vault.decrypt(licence.id_ciphertext)
                assert licence.id_index == vault.blind_index(id_number)
                assert claims.licence.masked_id == id_number[:6] + "********" + id_number[-4:]
                landed.append(
                    (
                        licence.record_key,
                        id_number,
                        licence.holder_name,
                        dict(licence.fields),
                        list(licence.categories),
                        licence.valid_from,
                        licence.valid_until,
                        licence.issued_at,
                        licence.status,
                        licence.status_reason,
                        claims.licence.fields,
                        claims.not_before,
                        claims.expires_at,
                    )
                )
            indices = {(licence.status_list_id, licence.status_index) for licence in licences}
            assert len(indices) == len(licences)
            audits = session.scalars(
                select(AuditEntry).where(AuditEntry.act == "licence.import").order_by(AuditEntry.id)
            ).all()
            landed.append(
                tuple((a.detail or {}).get("lines", [])[0] for a in audits)  # one per batch
            )
    finally:
        database.close()
    return landed


def _rejects(world: World) -> list[list[str]]:
    with (world.tmp / "licences.csv.rejects.csv").open(encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_workers_store_what_one_process_stores(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    world = make_world(database_url, tmp_path, monkeypatch)
    summary = _import(world, workers)
    assert (summary["rows"], summary["batches"]) == (40, 10)
    assert (summary["imported"], summary["already_present"], summary["rejected"]) == (35, 1, 4)
    assert summary["reject_reasons"] == {
        "invalid_field": 1,
        "invalid_id_number": 1,
        "record_key_taken": 1,
        "valid_until_in_past": 1,
    }
    # line numbers (the header is line 1): checks first, then the record-key step, per batch
    assert [row[0] for row in _rejects(world)[1:]] == ["12", "13", "16", "32"]
    landed = _landed(world)
    by_key = {row[0]: row for row in landed[:-1]}
    assert len(by_key) == 36  # 35 and the one imported before
    assert by_key["D00000005"][1] == "11010519491231002X"
    assert by_key["D00000006"][1] == by_key["D00000000"][1] == citizen_id(0)
    assert by_key["D00000009"][1] == citizen_id(8) and by_key["D00000031"][1] == citizen_id(26)
    assert by_key["D00000021"][1] == citizen_id(1000) and by_key["D00000021"][8] == "revoked"
    assert by_key["D00000003"][8:10] == ("suspended", "points exceeded")
    china = dt.timezone(dt.timedelta(hours=8))
    assert by_key["D00000007"][5] == dt.datetime(2019, 3, 1, tzinfo=china)
    # an audit entry for each batch that created a licence (all ten) and the file before
    assert landed[-1] == (2, *range(2, 42, 4))
    verified = world.run("audit", "verify")
    assert verified.exit_code == 0 and verified.output.startswith("OK: ")
    # run again: every row is there already (the same rows rejected again)
    source = world.tmp / "licences.csv"
    again = _summary(world.imports(source, "--batch-size", BATCH, "--json", "--workers", "2"))
    assert (again["imported"], again["already_present"], again["rejected"]) == (0, 36, 4)


def test_one_process_and_workers_land_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landed = []
    rejects = []
    for workers in (0, 2):
        directory = tmp_path / f"workers-{workers}"
        directory.mkdir()
        world = make_world(f"sqlite:///{directory}/elicence.db", directory, monkeypatch)
        _import(world, workers)
        landed.append(_landed(world))
        rejects.append(_rejects(world))
    assert landed[0] == landed[1]
    assert rejects[0] == rejects[1]


def test_the_help_names_the_workers_option(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(sqlite_url, tmp_path, monkeypatch)
    result = world.run("import", "--help")
    assert result.exit_code == 0 and "--workers" in result.output
