"""registry.audit: the hash chain detects edits, deletions and reordering; concurrent appends."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from credential import mask_id_number
from registry.audit import GENESIS_HASH, append_audit, verify_audit_chain
from registry.db import make_engine, make_session_factory
from registry.models import AuditEntry

ID = "11010519491231002X"


def _chain(session: Session, rows: int = 4) -> list[AuditEntry]:
    return [
        append_audit(
            session,
            actor="dept:transport",
            act="issue",
            object_type="licence",
            object_id=f"L{i}",
            detail={"number": f"L{i}", "holder": "张三", "id": mask_id_number(ID)},
        )
        for i in range(rows)
    ]


def test_intact_chain_verifies(db_session: Session) -> None:
    assert verify_audit_chain(db_session).ok  # empty chain
    entries = _chain(db_session)
    assert entries[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    report = verify_audit_chain(db_session)
    assert report.ok and report.rows_checked == 4
    assert report.first_bad_id is None


def test_edited_row_detected(db_session: Session) -> None:
    entries = _chain(db_session)
    db_session.execute(
        text("UPDATE audit_entries SET actor = 'someone else' WHERE id = :id"),
        {"id": entries[2].id},
    )
    report = verify_audit_chain(db_session)
    assert not report.ok
    assert report.first_bad_id == entries[2].id
    assert report.problem is not None and "content" in report.problem


def test_edited_detail_detected(db_session: Session) -> None:
    entries = _chain(db_session)
    db_session.execute(
        text("UPDATE audit_entries SET detail = :detail WHERE id = :id"),
        {"detail": '{"number": "forged"}', "id": entries[1].id},
    )
    report = verify_audit_chain(db_session)
    assert (report.ok, report.first_bad_id) == (False, entries[1].id)


def test_deleted_row_detected(db_session: Session) -> None:
    entries = _chain(db_session)
    db_session.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": entries[1].id})
    report = verify_audit_chain(db_session)
    assert not report.ok
    assert report.first_bad_id == entries[2].id
    assert report.problem is not None and "removed or moved" in report.problem


def test_reordered_rows_detected(db_session: Session) -> None:
    entries = _chain(db_session)
    a, b = entries[1].id, entries[2].id
    for old, new in ((a, -1), (b, a), (-1, b)):
        db_session.execute(
            text("UPDATE audit_entries SET id = :new WHERE id = :old"), {"new": new, "old": old}
        )
    report = verify_audit_chain(db_session)
    assert not report.ok
    assert report.first_bad_id == a


def test_rehashed_row_still_detected(db_session: Session) -> None:
    """An attacker who recomputes the edited row's own hash breaks the next link."""
    from registry.audit import entry_hash

    entries = _chain(db_session)
    forged = entries[1]
    forged.actor = "forger"
    db_session.execute(
        text("UPDATE audit_entries SET actor = :actor, hash = :hash WHERE id = :id"),
        {"actor": forged.actor, "hash": entry_hash(forged), "id": forged.id},
    )
    report = verify_audit_chain(db_session)
    assert (report.ok, report.first_bad_id) == (False, entries[2].id)


def test_full_id_number_refused_in_detail(db_session: Session) -> None:
    with pytest.raises(ValueError, match="full ID number"):
        append_audit(
            db_session,
            actor="a",
            act="issue",
            object_type="licence",
            object_id="1",
            detail={"rows": [{"id": ID}]},
        )
    # an 18-digit number that is not an ID number (wrong check character) is fine
    append_audit(
        db_session,
        actor="a",
        act="issue",
        object_type="licence",
        object_id="1",
        detail={"ref": "110105194912310021"},
    )
    # nor is a SHA-256 whose hex happens to hold one (a bulk import's file and licence hashes)
    digest = "ab" + "440524188001010014" + "c" * 44
    append_audit(
        db_session,
        actor="a",
        act="licence.import",
        object_type="import",
        object_id=digest,
        detail={"file_sha256": digest, "batches": [{"licence_ids_sha256": digest}]},
    )
    # but an ID number next to one, or in a key, is still refused
    for detail in ({"note": f"{digest} 440524188001010014"}, {"440524188001010014": 1}):
        with pytest.raises(ValueError, match="full ID number"):
            append_audit(
                db_session,
                actor="a",
                act="issue",
                object_type="licence",
                object_id="1",
                detail=detail,
            )


def test_concurrent_writers_keep_one_chain(migrated_url: str) -> None:
    engine = (
        make_engine(migrated_url, pool_size=4)
        if "postgresql" in migrated_url
        else (make_engine(migrated_url))
    )
    factory = make_session_factory(engine)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(10):
                with factory.begin() as session:
                    append_audit(
                        session,
                        actor=f"w{n}",
                        act="issue",
                        object_type="licence",
                        object_id=f"{n}-{i}",
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        with factory() as session:
            assert session.scalar(select(func.count()).select_from(AuditEntry)) == 40
            report = verify_audit_chain(session)
            assert report.ok, report
            assert report.rows_checked == 40
    finally:
        engine.dispose()


def test_deleting_the_newest_rows_is_caught_with_an_anchor(db_session: Session) -> None:
    entries = _chain(db_session, rows=5)
    report = verify_audit_chain(db_session)
    assert report.ok and report.head_hash == entries[-1].hash
    anchor = report.head_hash
    assert verify_audit_chain(db_session, anchors=[anchor.upper()]).ok
    # Cutting the tail leaves a chain that is intact by itself...
    db_session.execute(text("DELETE FROM audit_entries WHERE id >= :id"), {"id": entries[3].id})
    assert verify_audit_chain(db_session).ok
    # ...but no longer holds the head recorded before the cut.
    report = verify_audit_chain(db_session, anchors=[anchor])
    assert not report.ok and report.first_bad_id is None
    assert report.problem is not None and "removed" in report.problem
    assert report.head_hash == entries[2].hash


def test_an_empty_chain_has_no_head(db_session: Session) -> None:
    report = verify_audit_chain(db_session)
    assert report.ok and report.rows_checked == 0 and report.head_hash is None
