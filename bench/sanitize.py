"""Sanitiser benchmark: CPU to sanitise the recorded remote HTML, this checkout against another.

Run from the repository root:

    .venv/bin/python -m bench.sanitize --before ../base      # a checkout of main, with its .venv
    .venv/bin/python -m bench.sanitize --payloads DIR --rounds 200

Collects every `content`, `summary` and `contentMap`/`summaryMap` string (HTML from other
servers) in the JSON files under tests/fixtures and each --payloads directory, then sanitises the
whole set --rounds times with `fedicity.sanitize.sanitize_html`, in a child process per
checkout (its own .venv's python, importing its own fedicity), the checkouts taking turns
--turns times. Prints CPU per fragment and per KiB for each, the ratio after / before, and how
many fragments come out differently (and the first few of them), since both follow one policy.
Figures are printed, never asserted: compare the ratio within one run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import CAVEAT, ROOT, figure, heading

HTML_KEYS = frozenset({"content", "summary"})
HTML_MAP_KEYS = frozenset({"contentMap", "summaryMap"})

# Run by each checkout's own python, in that checkout: argv = corpus file, rounds, output file.
CHILD = """
import json, sys, time
from fedicity.sanitize import sanitize_html
fragments = json.load(open(sys.argv[1]))
rounds = int(sys.argv[2])
outputs = [sanitize_html(f) for f in fragments]
start = time.process_time()
for _ in range(rounds):
    for fragment in fragments:
        sanitize_html(fragment)
cpu = time.process_time() - start
json.dump({"cpu": cpu, "outputs": outputs}, open(sys.argv[3], "w"))
"""


def _strings(document: Any) -> Iterator[str]:
    """The remote-HTML strings anywhere in a JSON document."""
    if isinstance(document, list):
        for item in document:
            yield from _strings(item)
    elif isinstance(document, dict):
        for key, value in document.items():
            if key in HTML_KEYS and isinstance(value, str):
                yield value
            elif key in HTML_MAP_KEYS and isinstance(value, dict):
                yield from (v for v in value.values() if isinstance(v, str))
            else:
                yield from _strings(value)


def corpus(directories: list[Path]) -> list[str]:
    """Every distinct non-empty HTML string in the JSON files under `directories`."""
    found: dict[str, None] = {}
    for directory in directories:
        for path in sorted(directory.rglob("*.json")):
            try:
                document = json.loads(path.read_text())
            except (UnicodeDecodeError, ValueError):
                continue
            found.update((s, None) for s in _strings(document) if s.strip())
    return list(found)


def run_child(checkout: Path, corpus_file: Path, rounds: int, out: Path) -> dict[str, Any]:
    """Sanitise the corpus `rounds` times in `checkout` with its own python; CPU and outputs."""
    python = checkout / ".venv" / "bin" / "python"
    subprocess.run(
        [str(python), "-c", CHILD, str(corpus_file), str(rounds), str(out)],
        cwd=checkout,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def main() -> None:
    """Parse options, build the corpus, take turns, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="another checkout (with .venv) to compare")
    parser.add_argument("--payloads", type=Path, action="append", default=[])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--turns", type=int, default=3)
    args = parser.parse_args()

    fragments = corpus([ROOT / "tests" / "fixtures", *args.payloads])
    if not fragments:
        raise SystemExit("no HTML found")
    kib = sum(len(f.encode()) for f in fragments) / 1024
    checkouts = {"after": ROOT}
    if args.before is not None:
        checkouts = {"before": args.before.resolve(), "after": ROOT}
    heading(f"sanitize_html over {len(fragments)} fragments ({kib:,.1f} KiB), {CAVEAT}")
    cpu = dict.fromkeys(checkouts, 0.0)
    outputs: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        corpus_file = Path(tmp) / "corpus.json"
        corpus_file.write_text(json.dumps(fragments))
        for _ in range(args.turns):
            for name, checkout in checkouts.items():
                result = run_child(checkout, corpus_file, args.rounds, Path(tmp) / "out.json")
                cpu[name] += result["cpu"]
                outputs[name] = result["outputs"]
    calls = len(fragments) * args.rounds * args.turns
    for name, seconds in cpu.items():
        figure(f"{name}: CPU per fragment", seconds / calls * 1e6, "µs")
        figure(f"{name}: CPU per KiB", seconds / (kib * args.rounds * args.turns) * 1e6, "µs")
    if "before" in cpu:
        figure("after / before CPU", cpu["after"] / cpu["before"], "x")
        differing = [
            (f, b, a)
            for f, b, a in zip(fragments, outputs["before"], outputs["after"], strict=True)
            if a != b
        ]
        figure("fragments sanitised differently", len(differing))
        for fragment, before, after in differing[:5]:
            print(
                f"  - in:     {fragment[:300]!r}\n    before: {before[:300]!r}\n"
                f"    after:  {after[:300]!r}"
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
