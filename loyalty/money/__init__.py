"""Money: the ledger of balanced postings, its accounts, prepaid funding and settlement."""
