"""Run a `fedicity` command under cProfile timed by CPU time, not wall time.

bench/inbox.py uses it for --profile: `python -m bench.profiled OUT.prof web` runs `fedicity web`
and writes the profile when the command stops (SIGTERM). The default cProfile clock is wall time,
which on a loaded machine charges preemption to whatever was running (socket sends look costly);
time.process_time charges only CPU, at the price of a slower run. Read the result with pstats.
"""

from __future__ import annotations

import cProfile
import sys
import time

from fedicity.cli.main import main

if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit("usage: python -m bench.profiled OUT.prof COMMAND [ARGS...]")
    profiler = cProfile.Profile(time.process_time)
    status = 1
    try:
        status = profiler.runcall(main, sys.argv[2:])
    finally:
        profiler.dump_stats(sys.argv[1])
    raise SystemExit(status)
