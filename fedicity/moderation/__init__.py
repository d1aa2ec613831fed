"""Moderation: reports received, blocks, moves recorded, and domain policies."""
