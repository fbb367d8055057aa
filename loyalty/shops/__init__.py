"""Shops: applying to join, the team and profile, the shop's own figures."""
