"""Notifications: what happened to a local actor, recorded by the packages where it happens."""
