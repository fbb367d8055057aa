#!/usr/bin/env python3
"""Micro-benchmark: loyalty.infra.qr.qr_svg against the qrcode library's default SVG path.

Both render the same random claim URLs (https://sparen.example.be/c/<43-char token>).
Each repetition times every URL once with each renderer (interleaved, so drift in
machine load hits both alike); the reported figure is the median over repetitions.

Importable: ``from bench_qr import measure`` (with scripts/ on sys.path) or
``from scripts.bench_qr import measure`` (from the repository root).
"""

from __future__ import annotations

import argparse
import base64
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import qrcode
import qrcode.image.svg

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(ROOT))

from loyalty.infra.qr import qr_svg  # noqa: E402

CLAIM_PREFIX = "https://sparen.example.be/c/"
WARMUP_CODES = 20
EXAMPLE = "example:\n  python scripts/bench_qr.py --n 500\n"


def claim_urls(n: int, seed: int = 2026) -> list[str]:
    """``n`` claim URLs with random 43-character urlsafe tokens (like secrets.token_urlsafe(32))."""
    rng = random.Random(seed)
    return [
        CLAIM_PREFIX + base64.urlsafe_b64encode(rng.randbytes(32)).rstrip(b"=").decode("ascii")
        for _ in range(n)
    ]


def render_library_default(url: str) -> str:
    """The library's default path: best-fit version, automatic mask, SvgPathImage."""
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string().decode("utf-8")


def _ms_per_code(render: Callable[[str], object], urls: Sequence[str]) -> float:
    start = time.perf_counter()
    for url in urls:
        render(url)
    return (time.perf_counter() - start) * 1000 / len(urls)


def measure(n: int = 500, repeats: int = 5, seed: int = 2026) -> dict[str, float | int]:
    """Time both renderers on the same ``n`` claim URLs; medians in ms per code.

    Returns ``{"n", "repeats", "qrcode_default_ms", "loyalty_qr_ms", "ratio"}`` where
    ``ratio`` is how many times faster loyalty.infra.qr is.
    """
    if n < 1 or repeats < 1:
        raise ValueError("n and repeats must be at least 1")
    urls = claim_urls(n, seed)
    for url in urls[:WARMUP_CODES]:  # imports, caches, allocator warm-up
        render_library_default(url)
        qr_svg(url)
    library_runs: list[float] = []
    ours_runs: list[float] = []
    for _ in range(repeats):
        library_runs.append(_ms_per_code(render_library_default, urls))
        ours_runs.append(_ms_per_code(qr_svg, urls))
    library_ms = statistics.median(library_runs)
    ours_ms = statistics.median(ours_runs)
    return {
        "n": n,
        "repeats": repeats,
        "qrcode_default_ms": library_ms,
        "loyalty_qr_ms": ours_ms,
        "ratio": library_ms / ours_ms,
    }


def format_result(result: dict[str, float | int]) -> str:
    return (
        f"qrcode default: {result['qrcode_default_ms']:.1f} ms/code; "
        f"loyalty.infra.qr: {result['loyalty_qr_ms']:.1f} ms/code; "
        f"ratio {result['ratio']:.1f}x faster"
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--n", type=_positive_int, default=500, help="number of claim URLs (default: 500)"
    )
    parser.add_argument(
        "--repeats", type=_positive_int, default=5, help="timed repetitions (default: 5)"
    )
    parser.add_argument("--seed", type=int, default=2026, help="random seed for the tokens")
    args = parser.parse_args(argv)
    result = measure(args.n, repeats=args.repeats, seed=args.seed)
    print(format_result(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
