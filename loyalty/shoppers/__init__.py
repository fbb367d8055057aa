"""Shoppers: wallets, what a wallet shows, printed cards, and points that expire."""
