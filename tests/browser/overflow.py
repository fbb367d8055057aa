"""The horizontal-overflow check every browser test's page check runs."""

from __future__ import annotations

from playwright.sync_api import Page

# The page's own width beyond the viewport, and the elements that stick out (a
# table in a scrolling region of its own is fine: that region does not stick out).
_MEASURE = """() => {
  const width = document.documentElement.clientWidth;
  const out = [...document.querySelectorAll('body *')].filter(e => {
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.right <= width + 1) return false;
    for (let p = e.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') return false;
    }
    return true;
  }).slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''));
  return [document.documentElement.scrollWidth, width, out];
}"""


def assert_no_horizontal_overflow(page: Page, name: str) -> None:
    """Nothing on the page is wider than the screen (no sideways scrolling)."""
    scroll_width, width, sticking_out = page.evaluate(_MEASURE)
    assert scroll_width <= width and not sticking_out, (
        f"{name}: {scroll_width} px wide on a {width} px screen: {sticking_out}"
    )
