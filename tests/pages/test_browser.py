"""The three pages in a real headless Chromium against the real app on 127.0.0.1.

The journey the issue asks for: a department officer issues a licence on the console, the
citizen shows its QR on the wallet page, the counter page scans that very picture from a fake
camera and shows VALID; the officer revokes it and the next scan shows REVOKED. Screenshots of
every page go to ``tests/artifacts/`` (phone size, 390 x 844).
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import qrcode
from PIL import Image, ImageFilter

from credential import (
    PRESENTATION_PREFIX,
    STATIC_PREFIX,
    check_character,
    errors,
    mask_id_number,
)
from tests._qr import decode
from tests.pages._camera import write_y4m
from tests.pages.conftest import (
    PHONE,
    PRESENTATION_TTL,
    Department,
    LiveApp,
    free_port,
    make_department,
    make_party,
    offline_counter,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.browser

# Long enough for the server to decode a frame on a busy 2-core machine, short of a stuck test.
WAIT_MS = 15_000


def id_number(serial: str) -> str:
    """A valid 18-digit resident ID number (GB 11643 check character) ending in ``serial``."""
    first17 = "11010519900307" + serial
    return first17 + check_character(first17)


def phone(browser: Browser, *, init_script: str | None = None) -> BrowserContext:
    context = browser.new_context(viewport=PHONE, locale="zh-CN", device_scale_factor=1)
    context.set_default_timeout(WAIT_MS)
    if init_script:
        context.add_init_script(init_script)
    return context


def snap(page: Page, artifacts: Path, name: str, *, full_page: bool = True) -> None:
    """Screenshot the page, and check it fits the phone's width (no sideways scrolling)."""
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=full_page)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: {overflow}px wider than the phone"


def sign_in_console(page: Page, live_app: LiveApp, department: Department) -> None:
    page.goto(f"{live_app.url}/console")
    page.get_by_label("部门 API 密钥").fill(department.api_key)
    page.get_by_role("button", name="登录 Sign in").click()
    page.locator("#workspace").wait_for(state="visible")
    page.get_by_label("证照类型").select_option(department.licence_type)


def fill_issue_form(page: Page, *, id_text: str, name: str) -> None:
    page.locator("#issue-id-number").fill(id_text)
    page.locator("#issue-holder-name").fill(name)
    page.get_by_label("初次领证日期").fill("2015-06-01")
    page.get_by_label("档案编号").fill("110100123456")
    page.get_by_label("C1", exact=True).check()


def issue_by_api(live_app: LiveApp, department: Department, id_text: str, name: str) -> dict:
    response = httpx.post(
        f"{live_app.url}/issuer/licences",
        headers={"Authorization": f"Bearer {department.api_key}"},
        json={
            "licence_type": department.licence_type,
            "id_number": id_text,
            "holder_name": name,
            "categories": ["C1"],
            "fields": {"first_issued": "2015-06-01", "archive_no": "110100654321"},
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    data: dict = response.json()
    return data


def sign_in_wallet(page: Page, live_app: LiveApp, id_text: str) -> None:
    page.goto(f"{live_app.url}/wallet")
    page.get_by_label("身份证号").fill(id_text)
    page.get_by_role("button", name="登录（开发模式）").click()
    page.locator("#licences-card").wait_for(state="visible")


def test_console_shows_validation_errors_next_to_the_fields(
    browser: Browser, live_app: LiveApp, artifacts: Path
) -> None:
    department = make_department(live_app, "MARKET")
    context = phone(browser)
    page = context.new_page()
    sign_in_console(page, live_app, department)

    # Nothing filled in: every required field says so, next to itself, and nothing is sent.
    page.get_by_role("button", name="签发 Issue").click()
    for field in ("#issue-id-number", "#issue-holder-name", "#issue-field-first_issued"):
        assert "必填" in page.locator(f"{field}-error").inner_text()
        assert page.locator(field).get_attribute("aria-invalid") == "true"
    assert page.locator("#issue-field-archive_no").get_attribute("aria-invalid") == "true"
    snap(page, artifacts, "console-validation")

    # A well-formed ID number whose check character is wrong: the issuer refuses it and the
    # page puts the issuer's reason next to the ID number field.
    good = id_number("011")
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    fill_issue_form(page, id_text=bad, name="王小明")
    page.get_by_role("button", name="签发 Issue").click()
    error = page.locator("#issue-id-number-error")
    error.filter(has_text=re.compile(r"check", re.I)).wait_for()
    assert page.locator("#issue-holder-name-error").inner_text() == ""
    assert page.locator("#issue-result").inner_text() == ""

    # A licence-type field the issuer refuses (a date that is not a date) is marked on that field.
    page.locator("#issue-id-number").fill(good)
    page.get_by_label("初次领证日期").evaluate("(input) => { input.type = 'text'; }")
    page.get_by_label("初次领证日期").fill("2015-13-45")
    page.get_by_role("button", name="签发 Issue").click()
    page.locator("#issue-field-first_issued-error").filter(has_text="first_issued").wait_for()
    assert page.locator("#issue-field-first_issued").get_attribute("aria-invalid") == "true"
    assert page.locator("#issue-id-number-error").inner_text() == ""
    snap(page, artifacts, "console-server-validation")
    context.close()


def test_issue_show_scan_then_revoke(
    browser: Browser,
    camera_browser: Browser,
    camera_file: Path,
    live_app: LiveApp,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    department = make_department(live_app, "TRANSPORT")
    holder_id = id_number("021")

    # 1. The officer issues the licence on the console.
    officer = phone(browser).new_page()
    urls: list[str] = []  # every URL any of the three pages asks for
    officer.context.on("request", lambda request: urls.append(request.url))
    sign_in_console(officer, live_app, department)
    fill_issue_form(officer, id_text=holder_id, name="李华")
    officer.get_by_role("button", name="签发 Issue").click()
    issued = officer.locator("#issue-result [data-licence-number]")
    issued.wait_for()
    number = issued.inner_text()
    assert number
    snap(officer, artifacts, "console-issued")

    # 2. The citizen signs in, sees it among their licences and shows its QR full-screen.
    citizen = phone(browser).new_page()
    citizen.context.on("request", lambda request: urls.append(request.url))
    sign_in_wallet(citizen, live_app, holder_id)
    item = citizen.locator("ul.licences li")
    assert item.count() == 1
    assert number in item.inner_text()
    assert item.locator(".badge").get_attribute("data-status") == "valid"
    snap(citizen, artifacts, "wallet-list")
    item.get_by_role("button").click()
    citizen.locator("#detail-facts").get_by_text(holder_id).wait_for()  # the holder sees it in full
    # Fields are named with the licence type's labels, not their internal names.
    assert "初次领证日期 First issued" in citizen.locator("#detail-facts").inner_text()
    assert "first_issued" not in citizen.locator("#detail-facts").inner_text().lower()
    citizen.get_by_role("button", name="出示二维码").click()
    qr = citizen.locator("#qr-image[src^='blob:']")
    qr.wait_for()
    citizen.locator("#countdown-text").filter(has_text=re.compile(r"\d+ 秒后刷新")).wait_for()
    snap(citizen, artifacts, "wallet-qr", full_page=False)
    shown = qr.screenshot()  # exactly what is on the phone's screen
    assert decode(shown).startswith(PRESENTATION_PREFIX)

    # 3. The counter's camera sees that picture: VALID, with the licence's details. The counter
    #    is a machine of its own: the verifier alone, from a bundle it synced.
    write_y4m(Image.open(io.BytesIO(shown)), camera_file)
    port = free_port()
    counter = phone(camera_browser).new_page()
    counter.context.on("request", lambda request: urls.append(request.url))
    verdict = counter.locator("#verdict")
    with offline_counter(live_app, tmp_path / "bundle", port) as counter_url:
        counter.goto(f"{counter_url}/counter")
        counter.locator("#verdict[data-outcome='valid']").wait_for()
        text = verdict.inner_text()
        assert "✓" in text and "有效" in text and "VALID" in text
        assert text.index("有效") < text.index("VALID")  # Chinese first
        facts = counter.locator("#licence-facts")
        assert facts.locator("[data-field=holder_name]").inner_text() == "李华"
        assert facts.locator("[data-field=masked_id]").inner_text() == mask_id_number(holder_id)
        assert holder_id not in counter.content()
        assert facts.locator("[data-field=number]").inner_text() == number
        assert "C1" in facts.locator("[data-field=categories]").inner_text()
        assert "City Transport Bureau" in facts.locator("[data-field=department]").inner_text()
        assert re.search(r"\d+ 秒前", facts.locator("[data-field=status_age]").inner_text())
        assert "live holder presentation" in facts.locator("[data-field=kind]").inner_text()
        snap(counter, artifacts, "counter-valid")

    # 4. The officer finds it by ID number and revokes it with a reason.
    officer.get_by_label("持证人身份证号 Holder's ID number").last.fill(holder_id)
    officer.get_by_role("button", name="查找 Search").click()
    card = officer.locator(f".result-card[data-licence-number='{number}']")
    card.get_by_label("操作").select_option("revoke")
    card.get_by_label("原因").select_option("holder_request")
    card.get_by_label("备注").fill("持证人申请注销 holder asked")
    card.get_by_role("button", name="确认").click()
    card_of_number = f".result-card[data-licence-number='{number}']"
    officer.locator(f"{card_of_number} [data-status='revoked']").wait_for()
    snap(officer, artifacts, "console-revoked")

    # 5. The counter syncs its bundle; the page, still scanning the same phone screen with no
    #    click, now says REVOKED, in red and in words.
    with offline_counter(live_app, tmp_path / "bundle", port):
        counter.locator("#verdict[data-outcome='revoked']").wait_for()
        text = verdict.inner_text()
        assert "✗" in text and "已吊销" in text and "REVOKED" in text
        assert "invalid" in (verdict.get_attribute("class") or "")
        assert counter.locator("[data-field=number]").inner_text() == number
        snap(counter, artifacts, "counter-revoked")

    # 6. The citizen's wallet shows the licence revoked, with no QR to show.
    citizen.get_by_role("button", name="关闭").click()
    citizen.get_by_role("button", name="返回列表").click()
    citizen.locator("ul.licences li .badge[data-status='revoked']").wait_for()
    citizen.locator("ul.licences li button").click()
    citizen.locator("#detail-error").filter(has_text="revoked").wait_for()
    assert citizen.get_by_role("button", name="出示二维码").is_disabled()
    snap(citizen, artifacts, "wallet-revoked")
    # The ID number and the API key travel in bodies and headers only, never in a URL.
    asked = {url.split("?")[0].rsplit("/", 1)[-1] for url in urls}
    assert {"licences", "search", "revoke", "verify", "qr.png"} <= asked
    assert not [url for url in urls if holder_id in url or department.api_key in url]
    for context in (officer.context, citizen.context, counter.context):
        context.close()


def test_console_suspends_and_reinstates_and_the_counter_follows(
    browser: Browser, live_app: LiveApp, artifacts: Path, tmp_path: Path
) -> None:
    department = make_department(live_app, "PORTS")
    holder = id_number("061")
    licence = issue_by_api(live_app, department, holder, "周芳")
    photo = tmp_path / "printed.png"
    qrcode.make(licence["static_qr"]).save(str(photo))
    card_selector = f".result-card[data-licence-number='{licence['number']}']"

    officer = phone(browser).new_page()
    sign_in_console(officer, live_app, department)
    officer.locator("#search-id-number").fill(holder)
    officer.get_by_role("button", name="查找 Search").click()
    card = officer.locator(card_selector)
    card.wait_for()
    # A valid licence offers revoke and suspend, never reinstate.
    assert card.get_by_label("操作").locator("option").all_inner_texts() == [
        "吊销 Revoke",
        "暂停 Suspend",
    ]
    card.get_by_label("操作").select_option("suspend")
    card.get_by_label("原因").select_option("investigation")
    card.get_by_role("button", name="确认").click()
    officer.locator(f"{card_selector} [data-status='suspended']").wait_for()
    snap(officer, artifacts, "console-suspended")

    counter = phone(browser).new_page()
    with offline_counter(live_app, tmp_path / "bundle") as counter_url:
        counter.goto(f"{counter_url}/counter")
        counter.get_by_label("或上传照片").set_input_files(str(photo))
        counter.locator("#verdict[data-outcome='suspended']").wait_for()
        assert "已暂停" in counter.locator("#verdict").inner_text()
        assert "SUSPENDED" in counter.locator("#verdict").inner_text()
        snap(counter, artifacts, "counter-suspended")

    # A suspended licence can be reinstated (or revoked); reinstating needs its own reasons.
    card = officer.locator(card_selector)
    card.get_by_label("操作").select_option("reinstate")
    assert "fee_paid" in card.get_by_label("原因").locator("option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    card.get_by_label("原因").select_option("investigation_closed")
    card.get_by_role("button", name="确认").click()
    officer.locator(f"{card_selector} [data-status='valid']").wait_for()

    with offline_counter(live_app, tmp_path / "bundle") as counter_url:
        counter.goto(f"{counter_url}/counter")
        counter.get_by_label("或上传照片").set_input_files(str(photo))
        counter.locator("#verdict[data-outcome='valid']").wait_for()
    officer.context.close()
    counter.context.close()


def test_counter_reads_uploaded_photos(
    browser: Browser, live_app: LiveApp, artifacts: Path, tmp_path: Path
) -> None:
    department = make_department(live_app, "CIVIL")
    licence = issue_by_api(live_app, department, id_number("031"), "张伟")
    assert licence["static_qr"].startswith(STATIC_PREFIX)
    with offline_counter(live_app, tmp_path / "bundle") as counter_url:
        page = phone(browser).new_page()  # no camera here: photos only
        page.goto(f"{counter_url}/counter")
        page.locator("#scan-state").filter(has_text="upload a photo").wait_for()

        # A phone photo of the printed (static) copy: valid, flagged as not a live presentation.
        printed = qrcode.make(licence["static_qr"], border=4).get_image().convert("RGB")
        photo = printed.rotate(5, expand=True, fillcolor="white").filter(
            ImageFilter.GaussianBlur(1)
        )
        path = tmp_path / "printed.jpg"
        photo.save(path, quality=70)
        page.get_by_label("或上传照片").set_input_files(str(path))
        page.locator("#verdict[data-outcome='valid']").wait_for()
        assert "Static copy" in page.locator("#verdict .note").inner_text()
        assert page.locator("[data-field=number]").inner_text() == licence["number"]
        snap(page, artifacts, "counter-photo-static")

        # A QR code that is not a licence at all: red, with the reason in words, no details.
        other = tmp_path / "other.png"
        qrcode.make("https://example.invalid/not-a-licence").save(str(other))
        page.get_by_label("或上传照片").set_input_files(str(other))
        page.locator("#verdict[data-outcome='bad_prefix']").wait_for()
        assert "NOT A LICENCE QR" in page.locator("#verdict").inner_text()
        assert page.locator("#licence-card").is_hidden()

        # A photo with no QR code in it: the page says so, and the last verdict is cleared.
        blank = tmp_path / "blank.png"
        Image.new("RGB", (400, 300), "white").save(blank)
        page.get_by_label("或上传照片").set_input_files(str(blank))
        page.locator("#scan-error").filter(has_text="No QR code").wait_for()
        assert page.locator("#verdict").get_attribute("data-outcome") == ""
        assert "NOT A LICENCE" not in page.locator("#verdict").inner_text()
        snap(page, artifacts, "counter-photo-not-licence")
        page.context.close()


def test_wallet_refreshes_the_qr_before_it_expires(
    browser: Browser, live_app: LiveApp, artifacts: Path
) -> None:
    department = make_department(live_app, "HEALTH")
    holder = id_number("041")
    issue_by_api(live_app, department, holder, "赵敏")
    page = phone(browser).new_page()
    sign_in_wallet(page, live_app, holder)
    shown: list[str] = []  # each QR request the page makes: one per refresh, one signature each
    page.on(
        "request",
        lambda request: (
            shown.append(request.url.split("?")[0].rsplit("/", 1)[-1])
            if re.search(r"/wallet/licences/[^/]+/(presentation|qr)", request.url)
            else None
        ),
    )
    page.locator("ul.licences li button").click()
    page.get_by_role("button", name="出示二维码").click()
    image = page.locator("#qr-image[src^='blob:']")
    image.wait_for()
    first_src = image.get_attribute("src")
    first = decode(image.screenshot())
    seconds = int(re.findall(r"(\d+) 秒后刷新", page.locator("#countdown-text").inner_text())[0])
    assert 0 < seconds <= PRESENTATION_TTL  # from the image's X-Presentation-* headers
    page.wait_for_function(
        "src => document.getElementById('qr-image').src !== src",
        arg=first_src,
        timeout=PRESENTATION_TTL * 1000,
    )
    second = decode(page.locator("#qr-image").screenshot())
    assert second.startswith(PRESENTATION_PREFIX) and second != first
    assert shown == ["qr.png", "qr.png"]
    snap(page, artifacts, "wallet-qr-refreshed", full_page=False)
    page.context.close()


def test_offline_counter_scans_a_printed_copy_from_the_camera(
    camera_browser: Browser,
    camera_file: Path,
    live_app: LiveApp,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    """A counter machine with no database: the verifier serves the page from a synced bundle."""
    department = make_department(live_app, "EDUCATION")
    licence = issue_by_api(live_app, department, id_number("051"), "陈静")
    printed = qrcode.make(licence["static_qr"], border=4).get_image()
    write_y4m(printed, camera_file)
    with offline_counter(live_app, tmp_path / "bundle") as counter_url:
        page = phone(camera_browser).new_page()
        page.goto(f"{counter_url}/counter")
        page.locator("#verdict[data-outcome='valid']").wait_for()
        assert "Static copy" in page.locator("#verdict .note").inner_text()
        assert page.locator("[data-field=holder_name]").inner_text() == "陈静"
        assert page.locator("[data-field=number]").inner_text() == licence["number"]
        assert page.locator("#camera-toggle").get_attribute("data-state") == "on"
        snap(page, artifacts, "counter-offline-static")
        page.context.close()


def test_wallet_lists_who_checked_the_licence(
    browser: Browser, live_app: LiveApp, artifacts: Path
) -> None:
    """Checks recorded for a licence (rows as an online verifier writes them) on the wallet page."""
    import datetime as dt

    from registry.db import make_engine, make_session_factory
    from registry.models import VerificationCheck

    department = make_department(live_app, "TAX")
    holder = id_number("071")
    licence = issue_by_api(live_app, department, holder, "孙丽")
    other = issue_by_api(live_app, department, id_number("072"), "钱军")
    engine = make_engine(f"sqlite:///{live_app.data_dir / 'elicence.db'}")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with make_session_factory(engine).begin() as session:
        session.add_all(
            [
                VerificationCheck(
                    licence_id=licence["id"],
                    verifier_name="市政务服务中心 3 号窗口 Counter 3",
                    purpose="业务办理 Service",
                    checked_at=now - dt.timedelta(minutes=5),
                    outcome="valid",
                ),
                VerificationCheck(
                    licence_id=licence["id"],
                    verifier_name="某酒店前台 Hotel front desk",
                    purpose="入住登记 Check-in",
                    checked_at=now,
                    outcome="stale_presentation",
                ),
                VerificationCheck(
                    licence_id=other["id"],
                    verifier_name="Somebody else's check",
                    purpose=None,
                    checked_at=now,
                    outcome="valid",
                ),
            ]
        )
    engine.dispose()

    page = phone(browser).new_page()
    sign_in_wallet(page, live_app, holder)
    page.locator("ul.licences li button").click()
    rows = page.locator("#checks-list li")
    rows.nth(1).wait_for()
    assert rows.count() == 2  # never another citizen's checks
    newest, oldest = rows.nth(0).inner_text(), rows.nth(1).inner_text()
    assert "Hotel front desk" in newest and "入住登记" in newest
    assert "过期截图" in newest and "STALE SCREENSHOT" in newest and "✗" in newest
    assert "Counter 3" in oldest and "✓" in oldest and "VALID" in oldest
    assert page.locator("#checks-empty").is_hidden()
    snap(page, artifacts, "wallet-checks")
    page.context.close()


def test_counter_refuses_a_screenshot_of_an_old_qr(
    browser: Browser, live_app: LiveApp, artifacts: Path, tmp_path: Path
) -> None:
    department = make_department(live_app, "SOCIAL")
    holder = id_number("081")
    issue_by_api(live_app, department, holder, "吴刚")
    wallet = phone(browser).new_page()
    sign_in_wallet(wallet, live_app, holder)
    wallet.locator("ul.licences li button").click()
    wallet.get_by_role("button", name="出示二维码").click()
    screenshot = tmp_path / "screenshot.png"
    wallet.locator("#qr-image[src^='blob:']").screenshot(path=str(screenshot))
    wallet.context.close()

    # The counter sees it two minutes later (its clock is ahead by as much): a stale screenshot.
    later = lambda: int(time.time()) + 120  # noqa: E731
    with offline_counter(live_app, tmp_path / "bundle", now=later) as counter_url:
        page = phone(browser).new_page()
        page.goto(f"{counter_url}/counter")
        page.get_by_label("或上传照片").set_input_files(str(screenshot))
        page.locator("#verdict[data-outcome='stale_presentation']").wait_for()
        text = page.locator("#verdict").inner_text()
        assert "✗" in text and "过期截图" in text and "STALE SCREENSHOT" in text
        assert "fresh one" in text  # what to do about it, in plain words
        snap(page, artifacts, "counter-stale-screenshot")
        page.context.close()


def test_every_outcome_code_reads_as_plain_words(browser: Browser, live_app: LiveApp) -> None:
    """Each code the verifier can answer has its own words on the counter page; only the
    cannot-read-the-payload family shares "not a licence QR"."""
    codes = {
        cls.code: issubclass(cls, errors.MalformedPayload)
        for cls in vars(errors).values()
        if isinstance(cls, type)
        and issubclass(cls, errors.CredentialError)
        and cls is not errors.CredentialError
        # Codes of typed-in values (ID numbers, credit codes, licence identifiers) are input
        # errors of the APIs, never a verification outcome (their words: ELICENCE.errorText).
        and not issubclass(cls, errors.InvalidCode)
    }
    page = phone(browser).new_page()
    page.goto(f"{live_app.url}/counter")
    words = page.evaluate(
        "codes => Object.fromEntries(codes.map(c => [c, ELICENCE.outcomeWords(c)]))",
        list(codes),
    )
    unreadable = page.evaluate("ELICENCE.outcomeWords('no-such-code')")
    for code, malformed in codes.items():
        zh, en, zh_reason, en_reason = words[code]
        assert re.search(r"[\u4e00-\u9fff]", zh) and re.search(r"[A-Z]{3,}", en), code
        assert zh_reason and en_reason, code
        assert (words[code] == unreadable) is malformed, code
    assert words["revoked"][1] == "REVOKED" and words["expired"][1] == "EXPIRED"
    assert words["unknown_kid"][1] == "UNKNOWN DEPARTMENT"
    assert words["bad_signature"][1] == "NOT GENUINE"
    page.context.close()


def test_online_counter_scans_without_a_click_and_the_holder_sees_who_checked(
    browser: Browser,
    camera_browser: Browser,
    camera_file: Path,
    live_app: LiveApp,
    artifacts: Path,
) -> None:
    """The counter page of `elicence serve` itself: it verifies online, so a revocation shows on
    the very next scan. Signed in with a relying party's API key and naming one of its purposes,
    each check lands once in the holder's list under the party's registered name; an anonymous
    counter verifies all the same and records nothing."""
    department = make_department(live_app, "HOUSING")
    holder = id_number("091")
    licence = issue_by_api(live_app, department, holder, "郑强")
    counter_name = "不动产登记中心 Property Registration Centre"
    key = make_party(
        live_app,
        "PROPERTY_CENTRE",
        counter_name,
        [
            {
                "code": "PROPERTY",
                "text_zh": "不动产登记",
                "text_en": "Property registration",
                "licence_types": ["HOUSING/DRIVING"],
                "fields": ["holder_name"],
                "max_days": 1,
            },
            {
                "code": "TRANSFER",
                "text_zh": "过户",
                "text_en": "Transfer",
                "licence_types": ["HOUSING/DRIVING"],
                "fields": ["holder_name"],
                "max_days": 1,
            },
        ],
        kind="department",
    )

    citizen = phone(browser).new_page()
    sign_in_wallet(citizen, live_app, holder)
    citizen.locator("ul.licences li button").click()
    citizen.get_by_role("button", name="出示二维码").click()
    write_y4m(
        Image.open(io.BytesIO(citizen.locator("#qr-image[src^='blob:']").screenshot())), camera_file
    )

    # An anonymous counter: the verdict, and a plain word that nothing is recorded.
    anonymous = phone(camera_browser).new_page()
    anonymous.goto(f"{live_app.url}/counter")
    anonymous.locator("#verdict[data-outcome='valid']").wait_for()
    assert anonymous.locator("#counter-mode").get_attribute("data-mode") == "anonymous"
    assert "不记入" in anonymous.locator("#counter-mode").inner_text()
    assert "not recorded" in anonymous.locator("#counter-mode").inner_text()
    snap(anonymous, artifacts, "counter-anonymous")
    anonymous.context.close()

    # The clerk signs in with the centre's key and picks the purpose of the checks.
    urls: list[str] = []
    counter = phone(camera_browser).new_page()
    counter.context.on("request", lambda request: urls.append(request.url))
    counter.goto(f"{live_app.url}/counter")
    counter.get_by_label("用证方 API 密钥").fill(key)
    counter.locator("#party-sign-in").get_by_role("button", name="登录").click()
    counter.get_by_label("核验事由").select_option("PROPERTY")
    mode = counter.locator("#counter-mode[data-mode='signed-in']")
    mode.filter(has_text="不动产登记。").wait_for()
    assert counter_name in mode.inner_text() and "Property registration" in mode.inner_text()
    assert key not in counter.content()  # the key field is emptied once signed in
    assert "[object" not in counter.locator("body").inner_text()
    # The verdict says when the check is listed for the holder (then, and only then, revoke).
    counter.locator("#verdict[data-outcome='valid'][data-recorded='true']").wait_for()
    assert "live holder presentation" in counter.locator("[data-field=kind]").inner_text()
    assert "已记入持证人的核验记录" in counter.locator("#verdict").inner_text()
    snap(counter, artifacts, "counter-online-valid")

    response = httpx.post(
        f"{live_app.url}/issuer/licences/{licence['id']}/revoke",
        headers={"Authorization": f"Bearer {department.api_key}"},
        json={"reason": "fraud"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    counter.locator("#verdict[data-outcome='revoked'][data-recorded='true']").wait_for()
    assert "REVOKED" in counter.locator("#verdict").inner_text()
    snap(counter, artifacts, "counter-online-revoked")
    # Three more frames of the same screen go to /verify: the check is still recorded once.
    for _ in range(3):
        with counter.expect_request_finished(lambda request: request.url.endswith("/verify")):
            pass
    counter.context.close()

    citizen.get_by_role("button", name="关闭").click()
    citizen.locator("#detail-facts .badge[data-status='revoked']").wait_for()
    assert citizen.get_by_role("button", name="出示二维码").is_disabled()
    checks = citizen.locator("#checks-list li")
    checks.nth(1).wait_for()
    assert checks.count() == 2  # the anonymous counter's scans are nowhere
    assert [checks.nth(i).get_attribute("data-outcome") for i in range(2)] == ["revoked", "valid"]
    for i in range(2):
        assert counter_name in checks.nth(i).inner_text()
        assert "不动产登记" in checks.nth(i).inner_text()
    # ... and in the access log of the sharing part, as checks by the registered party.
    citizen.get_by_role("button", name="刷新").click()
    logged = citizen.locator("#access-list li[data-kind='check']")
    logged.nth(1).wait_for()
    assert counter_name in logged.nth(0).inner_text()
    snap(citizen, artifacts, "wallet-online-checks")
    citizen.context.close()
    assert not [url for url in urls if key in url or holder in url]
