"""loyalty.infra.qr: render to SVG, rasterise with a real SVG renderer, decode with zxing-cpp."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import pytest
import qrcode
import resvg_py
import zxingcpp
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M
from qrcode.exceptions import DataOverflowError

from loyalty.infra.qr import MASK_PATTERN, qr_svg

SVG = "{http://www.w3.org/2000/svg}"
PX_PER_MODULE = 6
QUIET_ZONE = 4  # modules; required by ISO/IEC 18004, so not imported from the module

CLAIM_URL = "https://sparen.example.be/c/Zq3v9Xr0bT7LkP2sWm4Yc8Hn1Jd6Fg5Ae0Ru7Is3Ox9"
LONG_URL = (
    "https://sparen.example.be/merchant/bakkerij-de-zoete-inval/aanbiedingen?"
    "campagne=winter-2026&gemeente=sint-niklaas&bron=affiche&taal=nl-BE&"
    "utm_source=qr&utm_medium=print&utm_campaign=lokaal-sparen&ref=0123456789abcdef"
)
PAYLOADS = {
    "claim-url": CLAIM_URL,
    "8-digit-code": "48213307",
    "long-url": LONG_URL,
    "xml-specials": 'Koffie & <taart> "gratis" voor \'t vijfde bezoek',
    "non-ascii": "Café Brugge: 5 € korting",
}


def _library_version(data: str) -> int:
    """Version the qrcode library itself would choose (its default path)."""
    code: qrcode.QRCode = qrcode.QRCode(error_correction=ERROR_CORRECT_M)
    code.add_data(data)
    return int(code.best_fit())


def _modules(svg: str) -> int:
    """Side of the viewBox in modules (symbol plus quiet zones)."""
    match = re.search(r'viewBox="0 0 (\d+) \1"', svg)
    assert match, "viewBox must be square and start at 0 0"
    return int(match.group(1))


def _rasterise(svg: str) -> Image.Image:
    png = resvg_py.svg_to_bytes(svg_string=svg, width=_modules(svg) * PX_PER_MODULE)
    image = Image.open(io.BytesIO(bytes(png)))
    image.load()
    return image.convert("L")


def _decode(image: Image.Image) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(image)


def _dark(image: Image.Image) -> list[list[bool]]:
    """Pixel grid of the greyscale raster, True where dark."""
    width, height = image.size
    data = image.tobytes()
    return [[data[y * width + x] < 128 for x in range(width)] for y in range(height)]


def test_rasterise_and_decode_detects_a_broken_rendering() -> None:
    """The decode check is not vacuous: an SVG without its dark modules fails it."""
    svg = qr_svg(CLAIM_URL)
    assert len(_decode(_rasterise(svg))) == 1
    blank = re.sub(r' d="[^"]*"', ' d=""', svg)
    assert blank != svg
    assert _decode(_rasterise(blank)) == []


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_decodes_to_exact_payload(payload: str) -> None:
    svg = qr_svg(payload)
    barcodes = _decode(_rasterise(svg))
    assert len(barcodes) == 1
    (barcode,) = barcodes
    assert barcode.valid
    assert barcode.format == zxingcpp.BarcodeFormat.QRCode
    assert barcode.bytes == payload.encode("utf-8")
    assert barcode.text == payload
    assert barcode.ec_level == "M"
    # The symbol is as small as the library's own fitting would make it.
    assert _modules(svg) == 4 * _library_version(payload) + 17 + 2 * QUIET_ZONE


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_raster_matches_library_matrix_module_for_module(payload: str) -> None:
    """Every module, quiet zone included, is what the library's own path builds.

    Decoding alone would forgive a few wrong modules (error correction); this does not.
    """
    code: qrcode.QRCode = qrcode.QRCode(
        error_correction=ERROR_CORRECT_M, mask_pattern=MASK_PATTERN, border=QUIET_ZONE
    )
    code.add_data(payload)
    expected = [[bool(module) for module in row] for row in code.get_matrix()]

    svg = qr_svg(payload)
    assert _modules(svg) == len(expected)
    image = _rasterise(svg)
    centre = PX_PER_MODULE // 2
    dark = _dark(image)
    rendered = [
        [dark[y * PX_PER_MODULE + centre][x * PX_PER_MODULE + centre] for x in range(len(expected))]
        for y in range(len(expected))
    ]
    assert rendered == expected


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_svg_structure(payload: str) -> None:
    svg = qr_svg(payload)
    root = ET.fromstring(svg)  # noqa: S314 - our own output, parsed to check well-formedness
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("shape-rendering") == "crispEdges"
    size = _modules(svg)
    assert root.get("viewBox") == f"0 0 {size} {size}"

    children = list(root)
    assert [child.tag for child in children] == [f"{SVG}title", f"{SVG}rect", f"{SVG}path"]
    title, rect, path = children
    assert title.text == "QR code"
    assert payload not in svg, "the payload (claim token) must not leak into the markup"
    assert (rect.get("width"), rect.get("height")) == (str(size), str(size))
    assert rect.get("fill") == "#fff"
    assert len(list(root.iter(f"{SVG}path"))) == 1
    assert svg.count("<path") == 1
    # Horizontal runs only: move, horizontal, one module down, back, close.
    assert re.fullmatch(r"(M\d+ \d+h\d+v1H\d+z)+", path.get("d", ""))


def test_quiet_zone_is_four_light_modules() -> None:
    svg = qr_svg(CLAIM_URL)
    image = _rasterise(svg)
    side = _modules(svg) * PX_PER_MODULE
    assert image.size == (side, side)
    margin = QUIET_ZONE * PX_PER_MODULE
    dark = _dark(image)
    dark_rows = [y for y in range(side) if any(dark[y])]
    dark_cols = [x for x in range(side) if any(row[x] for row in dark)]
    # The finder patterns put dark modules right at the symbol's edges.
    assert (dark_rows[0], dark_rows[-1]) == (margin, side - margin - 1)
    assert (dark_cols[0], dark_cols[-1]) == (margin, side - margin - 1)
    # And the background is opaque white, not transparent.
    assert image.getpixel((0, 0)) == 255


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ('Spaarkaart "De Zoete Inval" & <co>', 'Spaarkaart "De Zoete Inval" & <co>'),
        ("bad\x00char\x1b", "badchar"),
        ("", None),
    ],
)
def test_title_is_escaped(title: str, expected: str | None) -> None:
    svg = qr_svg("48213307", title=title)
    assert "<co>" not in svg
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert root.find(f"{SVG}title") is not None
    assert root.findtext(f"{SVG}title") == (expected or "")
    assert len(_decode(_rasterise(svg))) == 1


def test_same_length_different_modes_get_their_own_version() -> None:
    """Version caching must key on encoding modes, not just on length."""
    numeric = "1" * 60  # numeric mode: version 2 at level M
    binary = "a" * 60  # byte mode: version 4 at level M
    for payload in (numeric, binary, numeric):
        svg = qr_svg(payload)
        assert _modules(svg) == 4 * _library_version(payload) + 17 + 2 * QUIET_ZONE
        (barcode,) = _decode(_rasterise(svg))
        assert barcode.text == payload


def test_too_long_payload_raises() -> None:
    with pytest.raises(DataOverflowError):
        qr_svg("x" * 3000)
