"""The municipality's dashboard: reports, campaigns, shops and settings."""

from municipality_dashboard import reports as _reports  # noqa: F401  (registers the report pages)
from municipality_dashboard.views import bp

__all__ = ["bp"]
