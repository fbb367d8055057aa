"""Lokaal Sparen's core: the domain of the savings scheme, with no web framework in it.

Each package is one capability (earning, spending, shoppers, money, shops, town,
access, oversight, analytics); `infra` holds the database, mail and token plumbing
they share, `models` the tables, `api` the JSON API and `web` what the page front
ends share. The application is put together in `lokaal_sparen.app`.
"""
