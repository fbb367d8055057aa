"""Spending: a shopper's points become a discount at any shop through a spend code."""
