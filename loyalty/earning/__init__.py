"""Earning: a sale at the till becomes points (claims), stamps, and campaign bonuses."""
