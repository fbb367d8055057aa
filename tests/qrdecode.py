"""Read a QR code back the way a phone would: render the SVG to pixels, decode them."""

from __future__ import annotations

import io
import re

import resvg_py
import zxingcpp
from PIL import Image


def decode_svg(svg: str, px_per_module: int = 6) -> list[str]:
    """Every QR text zxing-cpp finds in an SVG rendered by resvg."""
    match = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    assert match, "the SVG has no viewBox"
    width = int(match.group(1)) * px_per_module
    png = resvg_py.svg_to_bytes(svg_string=svg, width=width)
    image = Image.open(io.BytesIO(bytes(png)))
    image.load()
    return [barcode.text for barcode in zxingcpp.read_barcodes(image.convert("L"))]
