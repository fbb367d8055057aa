"""The merchant portal: the till screen, redeeming, and the shop's own pages."""

from merchant_portal.views import bp

__all__ = ["bp"]
