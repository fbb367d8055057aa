"""Lokaal Sparen, put together: the Flask app (`app`), the `loyalty` command (`cli`), demo data."""
