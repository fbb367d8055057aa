"""The claim's QR for a receipt printer: ESC/POS bytes whose raster image a real
decoder reads back as the claim's URL, with the points in the till's language."""

from __future__ import annotations

import re

import zxingcpp
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy.orm import Session

from tests.factories import bearer, make_scheme, make_shop

RASTER = re.compile(rb"\x1dv0(.)(.)(.)(.)(.)", re.S)  # GS v 0 m xL xH yL yH


def _raster_images(data: bytes) -> list[Image.Image]:
    """The GS v 0 raster images in ESC/POS bytes, as pictures (1 bit = a black dot)."""
    images = []
    for match in RASTER.finditer(data):
        width_bytes = match.group(2)[0] + 256 * match.group(3)[0]
        height = match.group(4)[0] + 256 * match.group(5)[0]
        start = match.end()
        bits = data[start:start + width_bytes * height]
        picture = Image.frombytes("1", (width_bytes * 8, height), bits)
        # ESC/POS: 1 is a printed (black) dot; PIL's "1" mode: 1 is white.
        images.append(Image.eval(picture.convert("L"), lambda v: 255 - v))
    return images


def test_a_receipt_carries_the_claims_qr_and_points(client: FlaskClient, session: Session) -> None:
    shop = make_shop(session, make_scheme(session))
    sale = client.post("/api/v1/claims", json={"amount_cents": 2350}, headers=shop.headers).json
    receipt = client.get(f"/api/v1/claims/{sale['token']}/receipt.escpos?lang=fr",  # type: ignore[index]
                         headers=shop.headers)
    assert receipt.status_code == 200 and receipt.mimetype == "application/octet-stream"
    data = receipt.data
    assert data.startswith(b"\x1b@")  # ESC @: the printer starts afresh
    assert f"{sale['points']} points".encode() in data  # type: ignore[index]
    # French, with the apostrophe a receipt printer has (its code pages lack "’").
    assert b"Scannez avec l'appareil photo de votre t" in data
    images = _raster_images(data)
    assert len(images) == 1
    found = [r.text for r in zxingcpp.read_barcodes(images[0].convert("RGB"))]
    assert found == [sale["url"]]  # type: ignore[index]
    assert data.endswith(b"\x1dV\x00")  # GS V 0: cut the paper


def test_only_the_shops_own_till_prints_its_receipt(client: FlaskClient, session: Session) -> None:
    scheme = make_scheme(session)
    shop, other = make_shop(session, scheme), make_shop(session, scheme)
    sale = client.post("/api/v1/claims", json={"amount_cents": 1000}, headers=shop.headers).json
    path = f"/api/v1/claims/{sale['token']}/receipt.escpos"  # type: ignore[index]
    assert client.get(path, headers=other.headers).status_code == 404
    assert client.get(path).status_code == 401
    assert client.get(path, headers=bearer("lsk_nonsense")).status_code == 401
