"""The wallet page's "add to another wallet / 添加到其他钱包" in a real headless Chromium: the
citizen opens a licence, asks for an OpenID4VCI credential offer, and sees its QR code and
transaction code; the QR code as drawn on the screen decodes to the offer URI, which (with the
code shown) a wallet redeems at the token endpoint."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests._qr import decode
from tests.pages.conftest import LiveApp, make_department
from tests.pages.test_browser import id_number, issue_by_api, phone, sign_in_wallet, snap

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser


def test_add_to_another_wallet_shows_the_offer_qr_and_the_transaction_code(
    browser: Browser, live_app: LiveApp, artifacts: Path
) -> None:
    department = make_department(live_app, "OFFERS")
    holder = id_number("081")
    issue_by_api(live_app, department, holder, "周婷")
    page = phone(browser).new_page()
    sign_in_wallet(page, live_app, holder)
    page.locator("ul.licences li button").click()
    page.get_by_role("button", name="添加到其他钱包").click()
    image = page.locator("#offer-image[src^='data:image/png']")
    image.wait_for()
    uri = decode(image.screenshot())
    tx_code = page.locator("#offer-tx-code").inner_text()
    assert uri.startswith("openid-credential-offer://?credential_offer=")
    assert tx_code.isdigit() and len(tx_code) == 6 and tx_code not in uri
    assert holder not in uri and holder not in page.content().replace(
        page.locator("#detail-facts").inner_html(), ""
    )
    assert "Add to another wallet" in page.locator("#offer-screen").inner_text()
    snap(page, artifacts, "wallet-credential-offer", full_page=False)
    # what the screen shows is enough for another wallet to get its access token
    offer = json.loads(parse_qs(urlsplit(uri).query)["credential_offer"][0])
    grant = offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]
    answer = httpx.post(
        f"{live_app.url}/openid4vci/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
            "pre-authorized_code": grant["pre-authorized_code"],
            "tx_code": tx_code,
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    page.get_by_role("button", name="关闭 Close").last.click()
    assert page.locator("#offer-screen").is_hidden()
    assert page.locator("#offer-image").get_attribute("src") is None
    page.context.close()
