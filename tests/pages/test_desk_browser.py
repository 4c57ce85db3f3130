"""The relying-party desk and the wallet's sharing part in a real headless Chromium against the
real app on 127.0.0.1 (issue 15, items 6 and 8).

The journey: a bank clerk signs in on ``/desk`` with the bank's API key and asks for a citizen's
driving-licence data; the citizen approves in the wallet; the desk shows the data, its signature
checked in the browser against the platform root key; the citizen sees the access; the citizen
revokes; the desk's next fetch is refused. And 亮证: the citizen shows a one-time authorisation
QR for one licence, the desk reads it (decoded from the phone's screen by zxing-cpp, as a
counter's scanner gun types it) and gets the data without an ID number; the same code again is
refused. Screenshots go to ``tests/artifacts/`` (phone size, 390 x 844).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests._qr import decode
from tests.pages.conftest import LiveApp, make_department, make_party
from tests.pages.test_browser import id_number, issue_by_api, phone, sign_in_wallet, snap

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

BANK = "城市商业银行 City Commercial Bank"


def account_opening(department: str) -> dict[str, Any]:
    return {
        "code": "ACCOUNT_OPENING",
        "text_zh": "开立个人账户核验驾驶证",
        "text_en": "Opening an account: driving licence check",
        "licence_types": [f"{department}/DRIVING"],
        "fields": ["holder_name", "number", "valid_until", "first_issued"],
        "max_days": 30,
    }


def sign_in_desk(page: Page, live_app: LiveApp, key: str) -> None:
    page.goto(f"{live_app.url}/desk")
    page.get_by_label("用证方 API 密钥").fill(key)
    page.locator("#sign-in-form").get_by_role("button", name="登录").click()
    page.locator("#workspace").wait_for(state="visible")


def test_desk_request_wallet_approves_desk_fetches_citizen_revokes(
    browser: Any, live_app: LiveApp, artifacts: Path
) -> None:
    department = make_department(live_app, "TRANSPORT")
    holder = id_number("101")
    licence = issue_by_api(live_app, department, holder, "李华")
    key = make_party(live_app, "CITY_BANK", BANK, [account_opening("TRANSPORT")])
    urls: list[str] = []

    # 1. The clerk signs in and asks for the holder's name, validity and first-issue date,
    #    standing for ten days (the licence number is left out).
    desk = phone(browser).new_page()
    desk.context.on("request", lambda request: urls.append(request.url))
    sign_in_desk(desk, live_app, key)
    assert BANK in desk.locator("#signed-in").inner_text()
    # A mistyped ID number is marked on its field and nothing is sent.
    desk.get_by_label("公民身份号码").fill(holder[:-2])
    desk.get_by_role("button", name="发送申请").click()
    desk.locator("#request-id-number-error").filter(has_text="18").wait_for()
    assert desk.locator("#request-id-number").get_attribute("aria-invalid") == "true"
    assert desk.locator("#requests-list li").count() == 0
    desk.get_by_label("公民身份号码").fill(holder)
    assert desk.get_by_label("用证事由").first.input_value() == "ACCOUNT_OPENING"
    fields = desk.locator("#request-field-boxes")
    assert fields.get_by_label("初次领证日期 First issued").is_checked()
    fields.get_by_label("证照编号 Licence number").uncheck()
    desk.get_by_label("长期至").check()
    until = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    desk.get_by_label("截止日期").fill(until)
    desk.get_by_role("button", name="发送申请").click()
    desk.locator("#requests-list li[data-state='pending']").wait_for()
    assert "答复截止 Answer by" in desk.locator("#requests-list li").inner_text()
    assert desk.locator("#request-id-number").input_value() == ""  # not left on screen
    snap(desk, artifacts, "desk-request-pending")

    # 2. The citizen sees who asks, why, exactly which fields of which licence, how long.
    citizen = phone(browser).new_page()
    citizen.context.on("request", lambda request: urls.append(request.url))
    sign_in_wallet(citizen, live_app, holder)
    pending = citizen.locator("#requests-list li[data-state='pending']")
    pending.wait_for()
    text = pending.inner_text()
    assert BANK in text and "开立个人账户核验驾驶证" in text and "Opening an account" in text
    assert "初次领证日期 First issued" in text and "持证人姓名" in text
    assert "证照编号" not in pending.locator(".requested").inner_text()  # not asked for
    assert licence["number"] in text  # the licence it would cover
    assert f"Standing until {until}" in text
    snap(citizen, artifacts, "wallet-request-pending")
    pending.get_by_role("button", name="同意").click()
    citizen.locator("#consents-list li[data-state='active']").wait_for()

    # 3. The desk sees the approval by itself and shows the data, signature checked here.
    approved = desk.locator("#requests-list li[data-state='approved']")
    approved.wait_for()
    approved.get_by_role("button", name="获取数据").click()
    desk.locator("#package-signature[data-verified='true']").wait_for()
    package = desk.locator("#data-package")
    assert package.locator("[data-field='holder_name']").inner_text() == "李华"
    assert package.locator("[data-field='first_issued']").inner_text() == "2015-06-01"
    assert package.locator("[data-field='number']").count() == 0  # not consented
    assert package.locator(".badge[data-status='valid']").count() == 1
    assert department.licence_type_name in package.inner_text()
    assert "开立个人账户核验驾驶证" in package.inner_text()
    snap(desk, artifacts, "desk-data")

    # 4. The citizen sees the access: who, why, which fields.
    citizen.get_by_role("button", name="刷新").click()
    access = citizen.locator("#access-list li[data-kind='fetch']")
    access.wait_for()
    text = access.inner_text()
    assert BANK in text and "开立个人账户核验驾驶证" in text and "初次领证日期" in text
    snap(citizen, artifacts, "wallet-access-log")

    # 5. The citizen revokes the standing consent; the desk's next fetch is refused.
    citizen.locator("#consents-list li[data-state='active']").get_by_role(
        "button", name="撤销授权"
    ).click()
    revoked = citizen.locator("#consents-list li[data-state='revoked']")
    revoked.wait_for()
    assert "撤销时间 Revoked" in revoked.inner_text()
    snap(citizen, artifacts, "wallet-consent-revoked")
    desk.locator("#requests-list li[data-state='approved']").get_by_role(
        "button", name="获取数据"
    ).click()
    desk.locator("#data-error[data-error='consent_revoked']").wait_for()
    assert "公民已撤销此授权" in desk.locator("#data-error").inner_text()
    assert desk.locator("#data-package").inner_text() == ""  # the old data is gone from screen
    desk.locator("#requests-list .badge[data-state='revoked']").wait_for()
    snap(desk, artifacts, "desk-consent-revoked")

    for page in (desk, citizen):  # every piece of text is words, never a stray object
        assert "[object" not in page.locator("body").inner_text()
    # The ID number and the keys travel in bodies and headers only, never in a URL.
    assert {u.split("?")[0].rsplit("/", 1)[-1] for u in urls} >= {"requests", "data", "revoke"}
    assert not [u for u in urls if holder in u or key in u]
    desk.context.close()
    citizen.context.close()


def test_show_code_at_the_desk_gets_the_data_once(
    browser: Any, live_app: LiveApp, artifacts: Path
) -> None:
    department = make_department(live_app, "PORTS")
    holder = id_number("111")
    licence = issue_by_api(live_app, department, holder, "周芳")
    key = make_party(live_app, "PORT_BANK", BANK, [account_opening("PORTS")])

    # 1. The citizen opens the licence and shows a code bound to the bank and its purpose.
    citizen = phone(browser).new_page()
    sign_in_wallet(citizen, live_app, holder)
    citizen.locator("ul.licences li button").click()
    show = citizen.locator("#show-card")
    show.wait_for()
    show.get_by_label("授权给").select_option("PORT_BANK")
    assert show.get_by_label("用证事由").input_value() == "ACCOUNT_OPENING"
    citizen.get_by_role("button", name="生成授权码").click()
    image = citizen.locator("#show-qr-image[src^='blob:']")
    image.wait_for()
    citizen.locator("#show-countdown").filter(has_text="后失效").wait_for()
    snap(citizen, artifacts, "wallet-show-code", full_page=False)
    code = decode(image.screenshot())  # what the counter's scanner reads off the phone
    assert code == citizen.locator("#show-token").inner_text()
    assert holder not in code and holder[-6:] not in code  # no ID number in the QR

    # 2. The clerk scans it: the data, with no ID number typed.
    desk = phone(browser).new_page()
    desk.goto(f"{live_app.url}/desk")
    desk.get_by_label("用证方 API 密钥").fill(
        key[:-3] + ("AAA" if not key.endswith("AAA") else "BBB")
    )
    desk.locator("#sign-in-form").get_by_role("button", name="登录").click()
    desk.locator("#sign-in-error").filter(has_text="credentials were not accepted").wait_for()
    assert desk.locator("#workspace").is_hidden()
    assert desk.evaluate("sessionStorage.getItem('desk.apiKey')") is None  # not kept
    sign_in_desk(desk, live_app, key)
    desk.get_by_role("textbox", name="授权码").fill(code)
    desk.locator("#redeem-form").get_by_role("button", name="获取数据").click()
    desk.locator("#package-signature[data-verified='true']").wait_for()
    package = desk.locator("#data-package")
    assert package.locator("[data-field='holder_name']").inner_text() == "周芳"
    assert package.locator("[data-field='number']").inner_text() == licence["number"]
    assert "一次性" in package.inner_text()
    snap(desk, artifacts, "desk-show-code-data")

    # 3. The same code again is refused: it works once.
    desk.get_by_role("textbox", name="授权码").fill(code)
    desk.locator("#redeem-form").get_by_role("button", name="获取数据").click()
    desk.locator("#redeem-error").filter(has_text="authorisation code is unknown, used").wait_for()

    # 4. The citizen closes the code and sees the use: a used one-time consent, and the fetch.
    citizen.get_by_role("button", name="关闭").click()
    citizen.locator("#consents-list li[data-state='used']").wait_for()
    access = citizen.locator("#access-list li[data-kind='fetch']")
    access.wait_for()
    assert BANK in access.inner_text() and licence["number"] in access.inner_text()

    # 5. A generic code: no party named, the desk claims it with its purpose.
    first_consent = desk.locator("#data-package .data-package").get_attribute("data-consent-id")
    show.get_by_label("授权给").select_option("")
    assert show.get_by_label("用证事由").is_disabled()
    citizen.get_by_role("button", name="生成授权码").click()
    image.wait_for()
    generic = decode(image.screenshot())
    assert generic != code
    desk.get_by_role("textbox", name="授权码").fill(generic)
    desk.locator("#redeem-form").get_by_role("button", name="获取数据").click()
    desk.locator(f"#data-package .data-package:not([data-consent-id='{first_consent}'])").wait_for()
    desk.locator("#package-signature[data-verified='true']").wait_for()
    assert desk.locator("#redeem-error").inner_text() == ""
    assert (
        "使用时间 Used"
        in citizen.locator("#consents-list li[data-state='used']").first.inner_text()
    )
    for page in (desk, citizen):
        assert "[object" not in page.locator("body").inner_text()
    desk.context.close()
    citizen.context.close()
