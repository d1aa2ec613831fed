"""Local actors: citizens (Person), organisations (Organization) and the instance actor."""
