"""Uploaded media: images checked by their bytes, stored content-addressed under the data dir."""
