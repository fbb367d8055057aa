"""Plumbing the capabilities share: database, migrations, mail, QR codes, tokens."""
