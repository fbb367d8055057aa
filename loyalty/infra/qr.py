"""Fast QR-code rendering to a standalone SVG document.

The ``qrcode`` library builds the module matrix; this module only skips the
library's two slow steps (automatic mask selection and repeated version
fitting) and writes the SVG itself, as a single ``<path>`` of horizontal runs.
"""

from __future__ import annotations

import re
from functools import lru_cache
from xml.sax.saxutils import escape

import qrcode
from qrcode import util
from qrcode.constants import ERROR_CORRECT_M
from qrcode.exceptions import DataOverflowError

__all__ = ["qr_svg"]

#: Modules of light margin around the symbol, as ISO/IEC 18004 requires.
QUIET_ZONE = 4

# Why a fixed mask is fine: the mask pattern used is written into the symbol's
# format information, and every decoder reads it from there, so a symbol with
# any of the 8 masks decodes to the same data. The library's automatic choice
# builds the matrix 8 times and scores each against the spec's penalty rules
# (long same-colour runs, 2x2 blocks, finder-like patterns, dark/light balance)
# only to make the symbol a little easier for a camera to lock onto; it is
# about 80% of the library's run time. Mask 2 (dark where column % 3 == 0) had
# the lowest average penalty over random claim URLs and is also the mask the
# library itself picks most often for them, so scanning quality stays close.
MASK_PATTERN = 2

# Same threshold as ``QRCode.add_data``'s default, so the data is segmented
# (numeric / alphanumeric / byte mode) exactly as ``qrcode.make`` would.
_OPTIMIZE = 20

# Characters that XML 1.0 does not allow anywhere in a document.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_DARK_RUN = re.compile(b"\x01+")


@lru_cache(maxsize=512)
def _version_for(segments: tuple[tuple[int, int], ...]) -> int:
    """Smallest version that holds segments of these (mode, length) pairs.

    The bit count the data needs depends only on each segment's mode and length,
    never on its content, so the library's version fitting is done once per
    shape of data (e.g. once for every claim URL) and cached.
    """
    probe: qrcode.QRCode = qrcode.QRCode(error_correction=ERROR_CORRECT_M)
    for mode, length in segments:
        # Placeholder content of the right mode and length: only sizes matter.
        filler = b"0" if mode != util.MODE_8BIT_BYTE else b"\x00"
        probe.add_data(util.QRData(filler * length, mode=mode, check_data=False))
    try:
        return int(probe.best_fit())
    except ValueError as exc:  # qrcode 8.2 fails with "Invalid version (was 41 ...)"
        raise DataOverflowError(
            f"{sum(n for _, n in segments)} bytes do not fit in a version-40 QR code"
        ) from exc


def _matrix(data: str) -> list[list[bool]]:
    """The symbol's dark/light modules, without quiet zone."""
    segments = list(util.optimal_data_chunks(data, minimum=_OPTIMIZE))
    version = _version_for(tuple((seg.mode, len(seg)) for seg in segments))
    code: qrcode.QRCode = qrcode.QRCode(
        version=version,
        error_correction=ERROR_CORRECT_M,
        border=0,
        mask_pattern=MASK_PATTERN,
    )
    for seg in segments:
        code.add_data(seg)
    code.make(fit=False)
    matrix: list[list[bool]] = code.get_matrix()
    return matrix


def _xml_text(text: str) -> str:
    return escape(_XML_INVALID.sub("", text))


def qr_svg(data: str, title: str | None = None) -> str:
    """Render ``data`` as a QR code (error correction level M) in an SVG document.

    The document has no ``width``/``height``, only a ``viewBox`` in module units
    (symbol plus a 4-module quiet zone), so it scales to whatever box CSS gives
    it; ``shape-rendering="crispEdges"`` keeps module edges sharp.

    :param data: text to encode (UTF-8 in byte mode, or numeric/alphanumeric
        segments where that is shorter, as ``qrcode.make`` does).
    :param title: accessible name of the image; defaults to ``"QR code"``.
        It is XML-escaped. The payload is never used as title, since claim
        URLs carry a secret token.
    :raises qrcode.exceptions.DataOverflowError: if ``data`` is too long for
        a version-40 symbol (where ``qrcode.make`` raises a bare ``ValueError``).
    """
    matrix = _matrix(data)
    size = len(matrix) + 2 * QUIET_ZONE
    parts: list[str] = []
    append = parts.append
    for y, row in enumerate(matrix, QUIET_ZONE):
        for run in _DARK_RUN.finditer(bytes(row)):
            start, end = run.span()
            append(f"M{start + QUIET_ZONE} {y}h{end - start}v1H{start + QUIET_ZONE}z")
    label = _xml_text("QR code" if title is None else title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        'role="img" shape-rendering="crispEdges">'
        f"<title>{label}</title>"
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(parts)}"/>'
        "</svg>\n"
    )
