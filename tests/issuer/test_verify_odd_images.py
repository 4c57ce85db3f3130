"""The whole service's ``POST /verify`` (the counter page's) refuses an image the QR decoder
cannot take with a 422, as the verifier's own app does (tests/verifier/test_odd_images.py)."""

from __future__ import annotations

import io

from PIL import Image

from tests.issuer.conftest import Issuer


def test_an_image_over_65535_px_wide_is_422_not_500(issuer: Issuer) -> None:
    out = io.BytesIO()
    Image.new("1", (70_000, 1), 1).save(out, format="PNG")  # 89 bytes
    r = issuer.client.post(
        "/verify",
        files={"image": ("wide.png", out.getvalue(), "image/png")},
        data={"verifier_name": "Counter 3"},
    )
    assert r.status_code == 422, r.text
    assert r.json() == {
        "error": "bad_image",
        "detail": "image is 70000 x 1 px: at most 65,535 px a side is read",
    }
