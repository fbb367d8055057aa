"""The municipality's dashboard: reports, campaigns, shops and settings."""

from municipality_dashboard import campaigns as _campaigns  # noqa: F401  (its pages on bp)
from municipality_dashboard.views import bp

__all__ = ["bp"]
