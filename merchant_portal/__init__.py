"""The merchant portal: the till screen, redeeming, and the shop's own pages."""

from merchant_portal.common import bp

# Modules that add their pages to the blueprint.
from merchant_portal import views  # noqa: E402, F401  isort: skip
from merchant_portal import apply, cards  # noqa: E402, F401  isort: skip
from merchant_portal import owner  # noqa: E402, F401  isort: skip
from merchant_portal import figures  # noqa: E402, F401  isort: skip
from merchant_portal import statements  # noqa: E402, F401  isort: skip
from merchant_portal import funding  # noqa: E402, F401  isort: skip

__all__ = ["bp"]
