"""The municipality's dashboard: reports, campaigns, shops and settings."""

from municipality_dashboard.views import bp

__all__ = ["bp"]
