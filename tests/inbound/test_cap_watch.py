"""The room below the per-domain cap of waiting rows, as one web process remembers it
(inbound/mailbox.py:CapWatch): spent without counting, never past the cap, for a second."""

from __future__ import annotations

from fedicity.inbound.mailbox import CapWatch


class Ticks:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_room_left_at_a_count_is_spent_then_counted_again() -> None:
    ticks = Ticks()
    watch = CapWatch(3, clock=ticks)
    # A domain never counted must be counted
    assert not watch.take("social.example")
    # Counted with one row waiting (the POST that counted it stored): two places are free
    watch.counted("social.example", 1)
    assert watch.take("social.example")
    assert watch.take("social.example")
    # And the third POST counts again, as the cap would be passed otherwise
    assert not watch.take("social.example")
    # Another domain has its own room
    assert not watch.take("other.example")


def test_a_count_is_trusted_for_a_second_only() -> None:
    ticks = Ticks()
    watch = CapWatch(1000, clock=ticks)
    watch.counted("social.example", 0)
    ticks.now += 0.9
    assert watch.take("social.example")
    ticks.now += 0.1
    assert not watch.take("social.example")


def test_a_domain_at_its_cap_is_counted_every_time() -> None:
    watch = CapWatch(5, clock=Ticks())
    watch.counted("social.example", 2)
    watch.counted("social.example", 5)
    assert not watch.take("social.example")


def test_the_memory_is_bounded() -> None:
    watch = CapWatch(10, clock=Ticks(), max_domains=2)
    for domain in ("a.example", "b.example", "c.example"):
        watch.counted(domain, 0)
    # The oldest is forgotten: it is counted again, the others are not
    assert not watch.take("a.example")
    assert watch.take("b.example")
    assert watch.take("c.example")
