"""The shopper's wallet: a mobile-first installable web app, no app store needed."""

from consumer_web.views import bp

__all__ = ["bp"]
