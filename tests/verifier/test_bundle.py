"""Bundle sync against a real HTTP server on 127.0.0.1; refusals leave the old bundle in place."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from credential import STATUS_REVOKED, StatusReference, b64url_decode, sign_trust_list
from tests.verifier._server import serving
from tests.verifier._world import DAY, NOW, STATUS_URI, TRANSPORT, KeySpec, World, signer
from verifier import Bundle, BundleError, Policy, root_thumbprint, sync_bundle, verify_payload


def _verify(bundle_dir: Path, text: str, now: int = NOW) -> str:
    bundle = Bundle.load(bundle_dir)
    result = verify_payload(
        text, trust=bundle.trust, status=bundle.status, now=lambda: now, policy=Policy()
    )
    return result.outcome


def _current(bundle_dir: Path) -> str:
    return os.readlink(bundle_dir / "current")


def test_sync_with_root_key_then_verify_with_no_network(tmp_path: Path) -> None:
    world = World()
    bundle_dir = tmp_path / "bundle"
    with serving(world) as server:
        report = sync_bundle(
            source=server.url, bundle_dir=bundle_dir, root_key=world.root.public_key
        )
        assert "/root-key" not in server.requests  # the given key is pinned, nothing fetched
    assert report.status_lists == ("12", "40") and report.departments == 2
    assert report.root_thumbprint == root_thumbprint(world.root.public_key)
    assert (bundle_dir / "root-key.jwk").is_file()
    # the server is gone: verification runs from the bundle alone
    assert _verify(bundle_dir, world.presentation_qr()) == "valid"
    assert _verify(bundle_dir, world.static_qr(signer=signer())) == "unknown_kid"


def test_first_sync_by_thumbprint_fetches_and_pins_the_root_key(tmp_path: Path) -> None:
    world = World()
    with serving(world) as server:
        sync_bundle(
            source=server.url,
            bundle_dir=tmp_path,
            root_thumbprint_text=root_thumbprint(world.root.public_key),
        )
        assert "/root-key" in server.requests
    pinned = json.loads((tmp_path / "root-key.jwk").read_text())
    assert b64url_decode(pinned["x"]) and pinned["crv"] == "P-256"
    assert _verify(tmp_path, world.presentation_qr()) == "valid"


def test_thumbprint_mismatch_is_refused_and_nothing_written(tmp_path: Path) -> None:
    world = World()
    with serving(world) as server, pytest.raises(BundleError) as refused:
        sync_bundle(
            source=server.url,
            bundle_dir=tmp_path / "b",
            root_thumbprint_text=root_thumbprint(signer().public_key),
        )
    assert refused.value.code == "root_mismatch"
    assert not (tmp_path / "b").exists()


def test_first_sync_needs_a_root(tmp_path: Path) -> None:
    with serving(World()) as server, pytest.raises(BundleError) as refused:
        sync_bundle(source=server.url, bundle_dir=tmp_path)
    assert refused.value.code == "root_key_required"


def test_unreachable_source(tmp_path: Path) -> None:
    world = World()
    with serving(world) as server:
        url = server.url
    with pytest.raises(BundleError) as refused:
        sync_bundle(source=url, bundle_dir=tmp_path, root_key=world.root.public_key)
    assert refused.value.code == "fetch_failed"


@pytest.fixture
def synced(tmp_path: Path):  # type: ignore[no-untyped-def]
    world = World()
    bundle_dir = tmp_path / "bundle"
    with serving(world) as server:
        sync_bundle(source=server.url, bundle_dir=bundle_dir, root_key=world.root.public_key)
        yield world, server, bundle_dir


def test_trust_list_signed_by_another_root_is_refused_and_old_bundle_stays(synced) -> None:  # type: ignore[no-untyped-def]
    world, server, bundle_dir = synced
    before = _current(bundle_dir)
    world.trust_issued_at += 60
    server.documents["/trust-list"] = world.trust_token(root=signer())
    with pytest.raises(BundleError) as refused:
        sync_bundle(source=server.url, bundle_dir=bundle_dir)
    assert refused.value.code == "trust_list_refused" and "bad_signature" in refused.value.detail
    assert _current(bundle_dir) == before
    assert _verify(bundle_dir, world.presentation_qr()) == "valid"


def test_another_root_key_given_to_a_pinned_bundle_is_refused(synced) -> None:  # type: ignore[no-untyped-def]
    _, server, bundle_dir = synced
    before = _current(bundle_dir)
    with pytest.raises(BundleError) as refused:
        sync_bundle(source=server.url, bundle_dir=bundle_dir, root_key=signer().public_key)
    assert refused.value.code == "root_mismatch"
    assert _current(bundle_dir) == before


def test_tampered_status_list_is_refused_and_old_bundle_stays(synced) -> None:  # type: ignore[no-untyped-def]
    world, server, bundle_dir = synced
    before = _current(bundle_dir)
    # a revocation pasted into the payload, the department's signature kept
    honest = world.status_token(issued_at=NOW - 60)
    world.statuses[STATUS_URI].set(7, STATUS_REVOKED)
    forged_payload = world.status_token(issued_at=NOW - 60).split(".")[1]
    header, _, signature = honest.split(".")
    server.documents["/status-lists/12"] = f"{header}.{forged_payload}.{signature}"
    with pytest.raises(BundleError) as refused:
        sync_bundle(source=server.url, bundle_dir=bundle_dir)
    assert refused.value.code == "status_list_refused"
    assert _current(bundle_dir) == before
    assert _verify(bundle_dir, world.presentation_qr()) == "valid"


def test_status_list_signed_by_another_department_is_refused(synced) -> None:  # type: ignore[no-untyped-def]
    world, server, bundle_dir = synced
    before = _current(bundle_dir)
    server.documents["/status-lists/12"] = world.status_token(signer=world.market_key)
    with pytest.raises(BundleError) as refused:
        sync_bundle(source=server.url, bundle_dir=bundle_dir)
    assert refused.value.code == "status_list_refused"
    assert _current(bundle_dir) == before


def test_missing_status_list_refuses_the_whole_sync(synced) -> None:  # type: ignore[no-untyped-def]
    _, server, bundle_dir = synced
    before = _current(bundle_dir)
    del server.documents["/status-lists/40"]
    with pytest.raises(BundleError) as refused:
        sync_bundle(source=server.url, bundle_dir=bundle_dir)
    assert refused.value.code == "fetch_failed"
    assert _current(bundle_dir) == before


def test_older_trust_list_is_refused(synced) -> None:  # type: ignore[no-untyped-def]
    world, server, bundle_dir = synced
    world.trust_issued_at -= DAY
    server.documents["/trust-list"] = world.trust_token()
    with pytest.raises(BundleError) as refused:
        sync_bundle(source=server.url, bundle_dir=bundle_dir)
    assert refused.value.code == "trust_list_rollback"


def test_older_status_list_is_refused(synced) -> None:  # type: ignore[no-untyped-def]
    world, server, bundle_dir = synced
    server.documents["/status-lists/12"] = world.status_token(issued_at=NOW - DAY)
    with pytest.raises(BundleError) as refused:
        sync_bundle(source=server.url, bundle_dir=bundle_dir)
    assert refused.value.code == "status_list_rollback"


def test_status_list_name_that_is_not_plain_is_refused(synced) -> None:  # type: ignore[no-untyped-def]
    world, server, bundle_dir = synced
    payload = world.trust_payload()
    payload["iat"] += 60
    payload["departments"][0]["status_lists"] = ["../../etc/passwd"]
    server.documents["/trust-list"] = sign_trust_list(payload, world.root)
    with pytest.raises(BundleError) as refused:
        sync_bundle(source=server.url, bundle_dir=bundle_dir)
    assert refused.value.code == "status_list_refused"


def test_resync_picks_up_revocation_and_key_rotation(synced) -> None:  # type: ignore[no-untyped-def]
    world, server, bundle_dir = synced
    old_versions = {p.name for p in bundle_dir.glob("v-*")}
    world.statuses[STATUS_URI].set(7, STATUS_REVOKED)
    world.status_issued_at = NOW - 30
    new_key = signer()
    world.trust_issued_at += 60
    world.keys[0].not_after = NOW - DAY  # the active key retires, a new key takes over
    world.keys[0].state = "retired"
    world.keys.append(KeySpec(new_key, TRANSPORT, NOW - DAY, None, "active", ["DL"]))
    server.publish(world)
    sync_bundle(source=server.url, bundle_dir=bundle_dir)  # reuses the pinned root
    assert {p.name for p in bundle_dir.glob("v-*")}.isdisjoint(old_versions)
    assert _verify(bundle_dir, world.presentation_qr()) == "revoked"
    fresh = world.credential(
        signer=new_key,
        issued_at=NOW - 3600,
        not_before=NOW - 3600,
        status=StatusReference(STATUS_URI, 9),
    )
    assert _verify(bundle_dir, world.presentation_qr(fresh)) == "valid"


def test_stale_status_in_the_bundle(synced) -> None:  # type: ignore[no-untyped-def]
    world, _, bundle_dir = synced
    later = NOW + 2 * DAY
    text = world.presentation_qr(presented_at=later)
    assert _verify(bundle_dir, text, now=later) == "status_stale"
    assert _verify(bundle_dir, world.presentation_qr(presented_at=NOW), now=NOW) == "valid"


def test_damaged_bundle_is_reported(tmp_path: Path) -> None:
    with pytest.raises(BundleError) as missing:
        Bundle.load(tmp_path)
    assert missing.value.code == "no_bundle"


def test_damaged_bundle_is_refused(synced) -> None:  # type: ignore[no-untyped-def]
    _, _, bundle_dir = synced
    (bundle_dir / "current" / "trust-list.jwt").write_text("not.a.token")
    with pytest.raises(BundleError) as damaged:
        Bundle.load(bundle_dir)
    assert damaged.value.code == "bad_bundle"
