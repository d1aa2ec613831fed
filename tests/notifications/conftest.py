"""The signed inbox and Camille, as the inbound handlers' tests set them up."""

from tests.inbound.test_handlers import camille, inbox

__all__ = ["camille", "inbox"]
