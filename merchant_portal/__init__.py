"""The merchant portal: the till screen, redeeming, and the shop's own pages."""

from merchant_portal.common import bp

# The areas add their pages to the blueprint when imported: import them all here,
# once, so that registering ``bp`` registers every page.
from merchant_portal import (  # noqa: E402, F401  isort: skip
    apply,
    cards,
    corrections,
    earn_rate,
    figures,
    funding,
    offline_till,
    owner,
    redeem,
    statements,
    till,
    webhooks,
)

__all__ = ["bp"]
