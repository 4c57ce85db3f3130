"""Status indices for a batch (``allocate_indices``, bulk import): distinct, free, random, and a
list filled to its last free index before a new one starts (SQLite and PostgreSQL)."""

from __future__ import annotations

import random

from sqlalchemy.orm import Session

from issuer.status_lists.service import allocate_indices
from tests.registry.builders import (
    create_department,
    create_licence,
    create_licence_type,
    create_status_list,
)


def _taken(session: Session, size: int, count: int) -> tuple[int, int, set[int]]:
    """(department id, list id, its taken indices): a list of ``size`` with ``count`` licences."""
    department = create_department(session)
    licence_type = create_licence_type(session, department)
    status_list = create_status_list(session, department, size=size)
    taken = set(random.sample(range(size), count))
    for index in taken:
        create_licence(
            session,
            department=department,
            licence_type=licence_type,
            status_list=status_list,
            status_index=index,
        )
    return department.id, status_list.id, taken


def test_a_batch_gets_distinct_free_indices_of_the_current_list(db_session: Session) -> None:
    department_id, list_id, taken = _taken(db_session, 1024, 100)
    allocated = allocate_indices(
        session=db_session, department_id=department_id, size=1024, count=300
    )
    assert len(set(allocated)) == 300
    assert {list_id for list_id, _ in allocated} == {list_id}
    assert not {index for _, index in allocated} & taken
    assert all(0 <= index < 1024 for _, index in allocated)
    # random, not the lowest free ones in order
    assert [index for _, index in allocated] != sorted(index for _, index in allocated)


def test_a_nearly_full_list_is_filled_to_its_last_index_then_a_new_one_starts(
    db_session: Session,
) -> None:
    department_id, list_id, taken = _taken(db_session, 64, 60)
    allocated = allocate_indices(session=db_session, department_id=department_id, size=64, count=10)
    assert len(set(allocated)) == 10
    # the four free indices of the full list first, then six of a new list
    assert {index for lid, index in allocated if lid == list_id} == set(range(64)) - taken
    new_lists = {lid for lid, _ in allocated if lid != list_id}
    assert len(new_lists) == 1 and new_lists.pop() > list_id
    assert all(0 <= index < 64 for _, index in allocated)


def test_a_pooled_import_reads_a_nearly_full_list_once_and_avoids_its_batches_in_flight(
    db_session: Session,
) -> None:
    department_id, list_id, taken = _taken(db_session, 64, 30)
    spare: list[tuple[int, int]] = []
    # 25 of 34 free: more than a probe may draw, so the list's free indices are read at once
    first = allocate_indices(
        session=db_session, department_id=department_id, size=64, count=25, spare=spare
    )
    # those not handed out are kept for the next batch
    assert len(spare) == 34 - 25
    second = allocate_indices(
        session=db_session,
        department_id=department_id,
        size=64,
        count=5,
        spare=spare,
        avoid=set(first),  # a batch allocated, not yet written
    )
    assert len(spare) == 34 - 30
    both = first + second
    assert len(set(both)) == 30 and {lid for lid, _ in both} == {list_id}
    assert not {index for _, index in both} & taken
    # without the spare list, what is in flight is avoided all the same
    third = allocate_indices(
        session=db_session, department_id=department_id, size=64, count=4, avoid=set(both)
    )
    assert {index for _, index in both + third} == set(range(64)) - taken
