"""Open data in: feeds an instance follows and files an admin applies, with every imported row's
provenance."""
