"""Acts racing each other on PostgreSQL (writers run side by side there): the second answer to one
request (a citizen signed in on two devices), the second revocation of one consent, the second
redemption of one shown authorisation (two scanners), the second revocation of a party's key
waits for the first and is refused with the first's outcome, never applied on top of it."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import select

from registry.errors import Conflict
from registry.models import AuditEntry, Consent, UseRequest
from sharing import service
from sharing.auth import authenticate_relying_party
from sharing.errors import ConsentNotRevocable, RequestAnswered, ShowTokenNotUsable
from tests._races import DONE, second_waits_for_first
from tests.sharing.conftest import BANK_PURPOSE, ZHANG, Sharing, _world, driving, in_days

pytestmark = pytest.mark.postgres


@pytest.fixture
def sharing_pg(tmp_path: Path, postgres_url: str) -> Iterator[Sharing]:
    """The world on PostgreSQL only."""
    yield from _world(tmp_path, postgres_url)


def _acts(world: Sharing, object_id: str) -> list[str]:
    with world.database.reading() as session:
        return list(
            session.scalars(
                select(AuditEntry.act)
                .where(AuditEntry.object_id == object_id)
                .order_by(AuditEntry.id)
            )
        )


def _second_of_two(world: Sharing, act: Callable[..., object]) -> object:
    """What the second of two identical acts at once met (the first must succeed)."""
    first, second = second_waits_for_first(world.database, act, act)
    assert first == DONE
    return second


def test_approving_and_refusing_one_request_at_once_gives_one_answer(sharing_pg: Sharing) -> None:
    world = sharing_pg
    world.issue("TRANSPORT", **driving(ZHANG))
    key = world.party("CITY_BANK", "城市商业银行 City Bank", "bank", [BANK_PURPOSE])
    asked = world.ask(key)
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["id"]
    with world.database.reading() as session:
        id_index = session.scalars(select(UseRequest.id_index)).one()

    answer = partial(
        service.answer_request,
        id_index=id_index,
        request_id=request_id,
        actor="citizen:test",
        now=dt.datetime.now(dt.UTC),
    )
    approved, refused = second_waits_for_first(
        world.database, partial(answer, approve=True), partial(answer, approve=False)
    )
    assert approved == DONE
    assert isinstance(refused, RequestAnswered) and "approved" in str(refused)
    with world.database.reading() as session:
        assert session.scalars(select(UseRequest.state)).one() == "approved"
        assert len(session.scalars(select(Consent.id)).all()) == 1
    assert _acts(world, request_id) == ["use_request.create", "use_request.approve"]
    # and the consent works: the refusal changed nothing
    consent_id = world.get(f"/wallet/sharing/requests/{request_id}", ZHANG).json()["consent_id"]
    assert world.fetch(key, consent_id).status_code == 200


def test_revoking_one_consent_twice_at_once_revokes_it_once(sharing_pg: Sharing) -> None:
    world = sharing_pg
    world.issue("TRANSPORT", **driving(ZHANG))
    key = world.party("CITY_BANK", "城市商业银行 City Bank", "bank", [BANK_PURPOSE])
    consent_id = world.approved(key, kind="standing", until=in_days(20))
    with world.database.reading() as session:
        id_index = session.scalars(select(Consent.id_index)).one()

    second = _second_of_two(
        world,
        partial(
            service.revoke_consent,
            id_index=id_index,
            consent_id=consent_id,
            actor="citizen:test",
            now=dt.datetime.now(dt.UTC),
        ),
    )
    assert isinstance(second, ConsentNotRevocable) and "revoked" in str(second)
    assert _acts(world, consent_id) == ["consent.revoke"]
    assert world.fetch(key, consent_id).status_code == 403


def test_one_shown_authorisation_redeemed_twice_at_once_makes_one_consent(
    sharing_pg: Sharing,
) -> None:
    # Two clerks' scanners read the citizen's 亮证 code at once.
    world = sharing_pg
    licence_id = world.issue("TRANSPORT", **driving(ZHANG))
    key = world.party("CITY_BANK", "城市商业银行 City Bank", "bank", [BANK_PURPOSE])
    shown = world.client.post(
        "/wallet/sharing/show-tokens", json={"licence_id": licence_id}, headers=world.auth(ZHANG)
    )
    assert shown.status_code == 201, shown.text
    with world.database.reading() as session:
        caller = authenticate_relying_party(
            session=session, runtime=world.context.sharing, authorization=f"Bearer {key}"
        )

    second = _second_of_two(
        world,
        partial(
            service.redeem_show_token,
            caller=caller,
            token=shown.json()["token"],
            purpose_code=BANK_PURPOSE["code"],
            now=dt.datetime.now(dt.UTC),
        ),
    )
    assert isinstance(second, ShowTokenNotUsable)
    with world.database.reading() as session:
        assert len(session.scalars(select(Consent.id)).all()) == 1
        assert len(session.scalars(select(UseRequest.id)).all()) == 1


def test_one_party_key_revoked_twice_at_once_is_revoked_once(sharing_pg: Sharing) -> None:
    world = sharing_pg
    key = world.party("CITY_BANK", "城市商业银行 City Bank", "bank", [BANK_PURPOSE])
    prefix = key.split("_")[1]

    second = _second_of_two(
        world,
        partial(
            service.revoke_api_key,
            party_code="CITY_BANK",
            prefix=prefix,
            actor="admin:test",
            now=dt.datetime.now(dt.UTC),
        ),
    )
    assert isinstance(second, Conflict) and "already revoked" in str(second)
    assert _acts(world, prefix) == ["relying_party.api_key.create", "relying_party.api_key.revoke"]
    assert world.fetch(key, str(uuid.uuid4())).status_code == 401
