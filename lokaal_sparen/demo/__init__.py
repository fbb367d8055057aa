"""Demo data for Sint-Gillis-Waas: a believable town, its shops and a year of sales."""
