"""Needs and offers, jobs and classifieds: listings located in a territory, federated as Pages."""
