"""The background work: the loops, the inbox router and processing, delivery, and the federation
services they share."""
