"""The shopper's wallet: a mobile-first installable web app, no app store needed."""

from consumer_web.common import bp

# The areas add their routes to the blueprint when imported: import them all here,
# once, so that registering ``bp`` registers every page.
from consumer_web import (  # noqa: E402, F401  isort: skip
    account,
    collect,
    grants,
    open_data,
    passes,
    news,
    published,
    shell,
    shops,
    social,
    vouchers,
    wallet,
)

__all__ = ["bp"]
