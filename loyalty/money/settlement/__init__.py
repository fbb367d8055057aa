"""Settlement: each month, every shop's net position is locked, paid or collected.

See `monthly` for how a month is settled; `sepa`, `statements`, `payouts` and
`payment_requests` are what follows from a locked month.
"""
