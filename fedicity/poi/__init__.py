"""Points of interest: places on the map (a compost point, a shared library, an artwork...)."""
