"""Organisations: membership, roles, official identifiers, posting on their behalf."""
