"""Pages a clerk and a citizen can trust: how old the counter's status information is (amber past
the status lists' ttl, red past the counter's limit), camera and server errors in words, the
wallet's download button and its screenshot text matching the verifier, the console naming the
department signed in. Real app over HTTP, real Chromium, real QR images and verifications."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import qrcode

from credential import PRESENTATION_PREFIX
from tests._qr import decode
from tests.pages.conftest import LiveApp, make_department, offline_counter
from tests.pages.test_browser import (
    id_number,
    issue_by_api,
    phone,
    sign_in_console,
    sign_in_wallet,
    snap,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

HOUR = 3600


def _upload_and_wait(page: Page, photo: Path, freshness: str) -> None:
    """Upload the photo at the counter and wait for a verdict with this freshness."""
    page.get_by_label("或上传照片").set_input_files(str(photo))
    page.locator(f"#verdict[data-outcome='valid'][data-freshness='{freshness}']").wait_for()


def test_counter_turns_amber_past_the_ttl_and_red_past_its_limit(
    browser: Browser, live_app: LiveApp, artifacts: Path, tmp_path: Path
) -> None:
    """An offline counter whose clock moves on from its last sync: the same printed licence
    verifies VALID throughout (the verifier allows 24 h), but the page says how old the status
    information is: plain within the ttl, amber past it, red (and no longer a green VALID) past
    the counter's own limit, which the clerk can change."""
    department = make_department(live_app, "FRESHNESS")
    licence = issue_by_api(live_app, department, id_number("701"), "周芳")
    photo = tmp_path / "printed.png"
    qrcode.make(licence["static_qr"], border=4).save(str(photo))

    ahead = {"seconds": 0}  # how far the counter's clock is past its last sync
    clock = lambda: int(time.time()) + ahead["seconds"]  # noqa: E731
    with offline_counter(live_app, tmp_path / "bundle", now=clock) as counter_url:
        policy = httpx.get(f"{counter_url}/pages/verifier-policy", timeout=10).json()
        ttl = policy["status_ttl"]
        assert ttl == 300  # ELICENCE_STATUS_LIST_TTL's default, from the synced status lists
        page = phone(browser).new_page()
        page.goto(f"{counter_url}/counter")
        limit = page.get_by_label("状态信息最长可信时间")
        assert limit.input_value() == "60"
        verdict = page.locator("#verdict")
        status_row = page.locator("[data-field=status_age]")

        # Just synced: a plain green VALID.
        _upload_and_wait(page, photo, "fresh")
        assert "status-old" not in (verdict.get_attribute("class") or "")
        assert verdict.locator(".freshness").count() == 0

        # Past the ttl: still VALID, amber, saying how old and to sync.
        ahead["seconds"] = ttl + 120
        _upload_and_wait(page, photo, "old")
        assert "status-old" in (verdict.get_attribute("class") or "")
        assert "VALID" in verdict.locator(".word").inner_text()
        note = verdict.locator(".freshness.old").inner_text()
        assert "分钟前" in note and "min ago" in note and "sync soon" in note
        assert "5 min" in note  # the ttl, in words
        assert status_row.get_attribute("data-freshness") == "old"
        colour = verdict.evaluate("node => getComputedStyle(node).borderTopColor")
        assert colour == "rgb(217, 142, 4)"  # amber
        snap(page, artifacts, "counter-status-amber")

        # Two hours on, past the counter's one-hour limit: red, and not a green VALID.
        ahead["seconds"] = 2 * HOUR
        _upload_and_wait(page, photo, "too_old")
        classes = verdict.get_attribute("class") or ""
        assert "status-too-old" in classes
        word = verdict.locator(".word").inner_text()
        assert "状态信息过旧" in word and "STATUS TOO OLD" in word and "VALID" not in word
        text = verdict.inner_text()
        assert "2 小时前" in text and "2 h ago" in text and "may have been revoked" in text
        assert "60 分钟" in text and "60 min" in text  # the limit, in words
        assert status_row.get_attribute("data-freshness") == "too_old"
        colour = verdict.evaluate("node => getComputedStyle(node).borderTopColor")
        assert colour == "rgb(179, 38, 30)"  # red
        snap(page, artifacts, "counter-status-red")

        # The clerk allows three hours: the same two-hour-old status is amber again, and the
        # setting survives a reload.
        limit.fill("180")
        limit.dispatch_event("change")
        _upload_and_wait(page, photo, "old")
        page.reload()
        assert page.get_by_label("状态信息最长可信时间").input_value() == "180"

        # Past the verifier's own 24 h the verifier refuses it: red for that reason.
        ahead["seconds"] = 25 * HOUR
        page.get_by_label("或上传照片").set_input_files(str(photo))
        page.locator("#verdict[data-outcome='status_stale']").wait_for()
        assert "invalid" in (verdict.get_attribute("class") or "")
        page.context.close()


@pytest.mark.parametrize(
    ("name", "zh", "en"),
    [
        ("NotAllowedError", "未允许使用摄像头", "allow this page to use the camera"),
        ("NotFoundError", "未找到摄像头", "No camera was found"),
        ("NotReadableError", "摄像头被其他程序占用", "in use by another program"),
        ("OverconstrainedError", "摄像头不支持", "cannot provide the picture"),
        ("SecurityError", "安全原因", "for security"),
    ],
)
def test_counter_explains_camera_errors_in_words(
    browser: Browser, live_app: LiveApp, name: str, zh: str, en: str
) -> None:
    """The browser's camera error (here thrown by a stand-in getUserMedia, as the browser
    throws it) reads as what happened and what to do, in Chinese and English."""
    script = (
        "navigator.mediaDevices.getUserMedia = () => "
        f"Promise.reject(new DOMException('raw browser message', '{name}'));"
    )
    page = phone(browser, init_script=script).new_page()
    page.goto(f"{live_app.url}/counter")
    error = page.locator(f"#scan-error[data-camera-error='{name}']")
    error.wait_for()
    text = error.inner_text()
    assert zh in text and en in text
    assert "raw browser message" not in text and name not in text
    assert "upload a photo" in page.locator("#scan-state").inner_text()
    page.context.close()


def test_server_errors_read_as_words_in_both_languages(browser: Browser, live_app: LiveApp) -> None:
    """Every error code the services answer with has words on the pages; an unknown code gets a
    general sentence and the server's detail; no page shows a bare code."""
    import elicence.cli  # every command module too: the set of error classes must not depend on
    import issuer.errors  # which tests ran before in this process
    import wallet_api.errors
    from credential import errors
    from elicence.app import _HTTP_CODES
    from registry.errors import ServiceError

    def subclasses(cls: type) -> set[type]:
        return {cls} | {s for sub in cls.__subclasses__() for s in subclasses(sub)}

    assert elicence.cli and issuer.errors and wallet_api.errors  # for their ServiceError subclasses
    codes = {cls.code for cls in subclasses(ServiceError)} | set(_HTTP_CODES.values())
    codes |= {cls.code for cls in subclasses(errors.InvalidCode)}
    # Codes the issuer raises with InvalidRequest(code=...), the verifier's image answers and
    # the app's own.
    codes |= {
        "missing_field",
        "invalid_field",
        "unknown_field",
        "invalid_category",
        "valid_until_in_past",
        "invalid_validity",
        "body_too_large",
        "no_qr_code",
        "bad_image",
        "bad_json",
        "bad_multipart",
        "unsupported_media_type",
        "internal_error",
        "http_error",
        "invalid_prefix",
        "invalid_format",
    }
    codes.discard("error")
    page = phone(browser).new_page()
    page.goto(f"{live_app.url}/console")
    texts = page.evaluate(
        """codes => Object.fromEntries(codes.map(c => [c, ELICENCE.errorText(
             {ok: false, status: 400, data: {error: c, detail: "the detail"}})]))""",
        sorted(codes),
    )
    generic = page.evaluate(
        "ELICENCE.errorText({ok: false, status: 418, data: {error: 'brand_new', detail: 'why'}})"
    )
    for code, text in texts.items():
        # Chinese first, then English words; a code with an underscore never shows.
        assert re.match(r"[\u4e00-\u9fff]", text) and re.search(r"[A-Za-z]{3,}", text), code
        assert "_" not in code or code not in text, code
        assert not text.startswith("出错了"), code  # its own words, not the general sentence
    assert "出错了" in generic and "Something went wrong" in generic and generic.endswith("why")
    assert "brand_new" not in generic

    # On the page: the console's sign-in with a revoked-looking key, the issuer's 401.
    page.get_by_label("部门 API 密钥").fill("elk_notakey0_" + "x" * 30)
    page.get_by_role("button", name="登录 Sign in").click()
    page.locator("#api-key-error").filter(has_text="was not accepted").wait_for()
    page.context.close()


def test_console_names_the_department_signed_in(
    browser: Browser, live_app: LiveApp, artifacts: Path
) -> None:
    department = make_department(live_app, "SIGNEDIN")
    page = phone(browser).new_page()
    sign_in_console(page, live_app, department)
    banner = page.locator("#signed-in[data-department='SIGNEDIN']")
    banner.wait_for()
    page.locator("#signed-in-department").filter(has_text=department.name).wait_for()
    assert "(SIGNEDIN)" in page.locator("#signed-in-department").inner_text()
    key = page.locator("#signed-in-key").inner_text()
    assert department.api_key[:12] in key and department.api_key not in page.content()
    snap(page, artifacts, "console-signed-in")
    page.get_by_role("button", name="退出").click()
    assert banner.is_hidden()
    page.context.close()


def test_wallet_downloads_the_qr_and_says_how_long_a_screenshot_works(
    browser: Browser, live_app: LiveApp, artifacts: Path, tmp_path: Path
) -> None:
    department = make_department(live_app, "DOWNLOAD")
    holder = id_number("702")
    issue_by_api(live_app, department, holder, "郑洁")
    page = phone(browser).new_page()
    sign_in_wallet(page, live_app, holder)
    page.locator("ul.licences li button").click()
    # Custom fields read by their labels, not their names.
    page.locator("#detail-facts dt").filter(has_text="初次领证日期").wait_for()
    facts = page.locator("#detail-facts").inner_text()
    assert "初次领证日期" in facts and "first_issued" not in facts
    page.get_by_role("button", name="出示二维码").click()
    page.locator("#qr-image[src^='blob:']").wait_for()

    # The screenshot text is the verifier's real tolerance.
    policy = httpx.get(f"{live_app.url}/pages/verifier-policy", timeout=10).json()
    seconds = policy["max_presentation_age"]
    hint = page.locator(f"#screenshot-hint[data-seconds='{seconds}']")
    hint.wait_for()
    assert f"{seconds} 秒内仍可核验" in hint.inner_text()
    assert f"still verifies for {seconds} s" in hint.inner_text()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="下载二维码 Download QR").click()
    download = download_info.value
    assert download.suggested_filename == "qr.png"
    saved = tmp_path / "qr.png"
    download.save_as(saved)
    payload = decode(saved.read_bytes())
    assert payload.startswith(PRESENTATION_PREFIX)
    # What was saved verifies at the counter's POST /verify, as a live presentation.
    with saved.open("rb") as image:
        result = httpx.post(
            f"{live_app.url}/verify", files={"image": ("qr.png", image, "image/png")}, timeout=30
        ).json()
    assert result["valid"] is True and result["kind"] == "presentation"
    snap(page, artifacts, "wallet-download-qr", full_page=False)
    page.context.close()
