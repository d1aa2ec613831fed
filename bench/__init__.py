"""Federation benchmarks: scripts that print figures (run them with `python -m bench.NAME`)."""
