"""Fedicity: federated ActivityPub instance software for the civic life of a territory."""

__version__ = "0.1.0"
SOFTWARE_NAME = "fedicity"
