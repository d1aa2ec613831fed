"""Proposals: the cooperative space (texts put to a vote, federated as Questions)."""
