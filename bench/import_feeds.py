"""Feed parsing benchmark: CPU to read a calendar feed at its bounds (2000 events), iCalendar
and OpenAgenda JSON, with and without recurring events.

Run from the repository root:

    .venv/bin/python -m bench.import_feeds --rounds 5

Builds the feeds in memory (no network, no database: applying them is the events service's
cost, measured by its own benchmarks), parses each --rounds times and prints the CPU per feed
and per event. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fedicity.imports.ical import parse_ical
from fedicity.imports.models import FeedRefused, ParsedFeed
from fedicity.imports.openagenda import parse_openagenda
from fedicity.imports.text import MAX_EVENTS, Window

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _ical(count: int, *, weekly: int = 0) -> str:
    rows = []
    for n in range(count):
        start = NOW + timedelta(days=n % 300, hours=n % 10)
        rule = "RRULE:FREQ=WEEKLY\r\n" if n < weekly else ""
        rows.append(
            f"BEGIN:VEVENT\r\nUID:{n}@bench.example\r\nSUMMARY:Réunion {n}\r\n"
            f"DTSTART;TZID=Europe/Paris:{start:%Y%m%dT%H%M%S}\r\n"
            f"DTEND;TZID=Europe/Paris:{start + timedelta(hours=2):%Y%m%dT%H%M%S}\r\n"
            f"LOCATION:Salle {n}\\, Montreuil\r\nDESCRIPTION:{'Ordre du jour. ' * 20}\r\n"
            f"{rule}END:VEVENT\r\n"
        )
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + "".join(rows) + "END:VCALENDAR\r\n"


def _openagenda(count: int) -> str:
    events = [
        {
            "uid": n,
            "title": {"fr": f"Atelier {n}"},
            "longDescription": {"fr": "Ordre du jour. " * 20},
            "timings": [
                {
                    "begin": (NOW + timedelta(days=n % 300)).isoformat(),
                    "end": (NOW + timedelta(days=n % 300, hours=2)).isoformat(),
                }
            ],
            "location": {"name": f"Salle {n}", "city": "Montreuil", "latitude": 48.86},
        }
        for n in range(count)
    ]
    return json.dumps({"events": events})


def main() -> None:
    """Parse each feed --rounds times and print the CPU per feed and per event."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    window = Window(NOW, "Europe/Paris")
    feeds: dict[str, Callable[[str], ParsedFeed | FeedRefused]] = {
        f"ical, {MAX_EVENTS} events": lambda text: parse_ical(text, window=window),
        "ical, 50 weekly series + 500 events": lambda text: parse_ical(text, window=window),
        f"openagenda, {MAX_EVENTS} events": lambda text: parse_openagenda(text, window=window),
    }
    texts = [_ical(MAX_EVENTS), _ical(550, weekly=50), _openagenda(MAX_EVENTS)]
    for (name, parse), text in zip(feeds.items(), texts, strict=True):
        spent = []
        for _ in range(args.rounds):
            started = time.process_time()
            parsed = parse(text)
            spent.append(time.process_time() - started)
        assert isinstance(parsed, ParsedFeed), parsed
        best = min(spent)
        print(
            f"{name}: {len(text) / 1024:.0f} KiB, {len(parsed.events)} occurrences, "
            f"{best * 1000:.0f} ms CPU per feed (best of {args.rounds}), "
            f"{best / len(parsed.events) * 1e6:.0f} µs per occurrence"
        )


if __name__ == "__main__":
    main()
