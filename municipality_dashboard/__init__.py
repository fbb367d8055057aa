"""The municipality's dashboard: reports, campaigns, shops and settings."""

from municipality_dashboard.common import bp

# The areas add their pages to the blueprint when imported: import them all here,
# once, so that registering ``bp`` registers every page.
from municipality_dashboard import (  # noqa: E402, F401  isort: skip
    admin,
    campaigns,
    clusters,
    funding,
    grants,
    messages,
    operations,
    overview,
    reports,
    settlements,
    social,
    texts,
    vouchers,
)

__all__ = ["bp"]
