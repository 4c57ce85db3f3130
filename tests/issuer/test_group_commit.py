"""Group commit over HTTP on SQLite: requests that arrive while another writer holds the lock
share one transaction, each in its own savepoint; nobody hears back before the commit; a failing
request leaves nothing behind. (The writer itself: ``tests/registry/test_database.py``.)"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event

from registry.audit import verify_audit_chain
from registry.models import Licence

from ..registry.test_database import another_writer, wait_for
from .conftest import VALID_IDS, Issuer, bearer, licence_body
from .test_licences import _setup


def test_waiting_requests_commit_together_and_a_failing_one_leaves_nothing(
    issuer: Issuer,
) -> None:
    key = _setup(issuer)
    database = issuer.database
    licences_before, audit_before = issuer.count(Licence), issuer.audit_count()
    commits: list[int] = []
    event.listen(database.engine, "commit", lambda _conn: commits.append(1))
    bodies = [licence_body(id_number=number) for number in VALID_IDS]
    bodies.append(licence_body(licence_type="NO_SUCH_TYPE"))
    bodies.append(licence_body(fields={"licence_class": "Z", "first_issued": "2020-05-01"}))
    statuses: dict[int, int] = {}

    def post(n: int) -> None:
        response = issuer.client.post("/issuer/licences", json=bodies[n], headers=bearer(key))
        statuses[n] = response.status_code

    with another_writer(database.url):
        threads = [threading.Thread(target=post, args=(n,)) for n in range(len(bodies))]
        for thread in threads:
            thread.start()
        # The invalid field value is refused while waiting too: it is checked in the
        # transaction, after the licence type (a 404 comes before a 422).
        wait_for(lambda: database.writes_waiting == len(bodies))
        assert statuses == {}  # nobody hears back before the commit
    for thread in threads:
        thread.join(10)
    assert statuses == {0: 201, 1: 201, 2: 201, 3: 404, 4: 422}
    assert len(commits) == 1  # one transaction for all five
    assert issuer.count(Licence) == licences_before + 3
    assert issuer.audit_count() == audit_before + 3
    with issuer.session() as session:
        assert verify_audit_chain(session).ok


def test_one_idempotency_key_twice_in_one_batch_issues_once(issuer: Issuer) -> None:
    key = _setup(issuer)
    database = issuer.database
    licences_before = issuer.count(Licence)
    answers: list[Any] = []

    def post() -> None:
        headers = {**bearer(key), "Idempotency-Key": "retry-7f3a"}
        answers.append(issuer.client.post("/issuer/licences", json=licence_body(), headers=headers))

    with another_writer(database.url):
        threads = [threading.Thread(target=post) for _ in range(2)]
        for thread in threads:
            thread.start()
        wait_for(lambda: database.writes_waiting == 2)
    for thread in threads:
        thread.join(10)
    assert sorted(answer.status_code for answer in answers) == [200, 201]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    replayed = next(answer for answer in answers if answer.status_code == 200)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert issuer.count(Licence) == licences_before + 1
