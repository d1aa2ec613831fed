"""Inbound activities: the stored mailbox rows and the worker that routes them to handlers."""
