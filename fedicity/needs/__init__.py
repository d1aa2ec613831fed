"""Needs of organisations and projects (what people may help with) and the offers to help."""
