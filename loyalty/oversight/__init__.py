"""Oversight: the audit trail and the fraud checks the municipality reviews."""
