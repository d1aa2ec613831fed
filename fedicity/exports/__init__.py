"""Open data out: the feeds, agendas, map, tables and catalogue of a territory's public data."""
