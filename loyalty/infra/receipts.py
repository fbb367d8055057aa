"""The claim's QR code for a receipt printer (ESC/POS, the command language of
nearly every receipt printer): a shop whose till prints receipts puts the QR on
the receipt instead of turning a screen to the shopper.

The QR code is sent as a raster image, not as the printer's own QR command:
every ESC/POS printer prints images, not every one knows QR codes. The bytes
go to the printer as they are (its USB device, or TCP port 9100).
"""

from __future__ import annotations

from collections.abc import Sequence

# Sized for 58 mm and 80 mm paper alike: each QR module 6 dots wide.
QR_MODULE_DOTS = 6
# Receipt printers' code pages have accented letters but no typographic quotes.
PLAIN = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"',
                       "\u202f": " ", "\u00a0": " ", "…": "..."})


def claim_receipt(heading: str, lines: Sequence[str], url: str) -> bytes:
    """ESC/POS bytes: ``heading`` in bold, ``lines``, the QR code of ``url``, a cut."""
    from escpos.printer import Dummy  # python-escpos writes into memory here

    printer = Dummy()
    printer.hw("INIT")  # ESC @: whatever the last receipt left set is reset
    printer.set(align="center", bold=True, double_height=True)
    printer.textln(heading.translate(PLAIN))
    printer.set(align="center", normal_textsize=True)
    for line in lines:
        printer.textln(line.translate(PLAIN))
    printer.qr(url, native=False, size=QR_MODULE_DOTS, center=True)
    printer.ln()
    printer.cut()
    data: bytes = printer.output
    return data
