"""Analytics without personal data: purchase events and the reports built on them."""
