"""The town the analytics tests generate events for: its villages and its shops' sectors."""

from __future__ import annotations

VILLAGES = ["Sint-Gillis-Waas", "De Klinge", "Meerdonk", "Sint-Pauwels"]


SECTORS = ["47.24", "47.22", "47.25", "47.11", "47.19", "56.101", "56.102", "56.301",
           "47.71", "47.72", "47.76", "47.61", "47.64", "47.65", "47.73", "47.75",
           "47.52", "47.59", "96.021", "47.782"]
