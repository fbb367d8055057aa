"""The municipality's dashboard: reports, campaigns, shops and settings."""

from municipality_dashboard.views import bp

# Modules that add their pages to the blueprint.
from municipality_dashboard import reports  # noqa: E402, F401  isort: skip
from municipality_dashboard import campaigns  # noqa: E402, F401  isort: skip
from municipality_dashboard import settlements  # noqa: E402, F401  isort: skip
from municipality_dashboard import funding  # noqa: E402, F401  isort: skip
from municipality_dashboard import admin  # noqa: E402, F401  isort: skip

__all__ = ["bp"]
