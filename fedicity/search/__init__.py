"""Finding things: full-text search over what a visitor may see (actors, events, proposals,
public posts), what a typed handle or address names here or on its own server, and the remote
follow that sends a visitor to their own server's subscribe page. It reads across the domains
below it, so it sits at the top of the domain layer."""
