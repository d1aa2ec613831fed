"""Territories: the communes, intercommunalités, départements and régions an instance serves.

For now the served territory is named by settings (FEDICITY_TERRITORY_NAME/_CODE) and shown in
NodeInfo and on the home page; the territory tree and territory actors come next.
"""
