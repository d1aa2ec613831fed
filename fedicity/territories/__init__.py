"""Territories: the French administrative tree, the territory an instance serves, its actors.

Settings name the served root (FEDICITY_TERRITORY_LEVEL and _CODE); everything under it is served,
each territory being a Group actor that announces what is located in it.
"""
