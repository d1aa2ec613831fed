"""The `fedicity` command run from a fork of a process that imported it once.

Every run of the console script spent ~0.7 s idle (several seconds on a loaded machine) importing
the application before doing anything; the tests of what the commands do paid it on every call.
Here one server process per test process imports `fedicity.cli.main` once, then forks a child for
each call: the child is still a process of its own (its own environment, standard streams, event
loop, signals and exit), it runs the same `main(argv)` the console script runs, and only the
imports are shared. tests/test_cli.py still runs the installed console script where the entry
point itself is tested (help, version, usage errors, a clean failure, a password on stdin).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Result:
    """What a finished command left behind."""

    code: int
    stdout: str
    stderr: str


_server: tuple[subprocess.Popen[bytes], str] | None = None


def _socket_path() -> str:
    global _server
    if _server is None or _server[0].poll() is not None:
        folder = tempfile.mkdtemp(prefix="fedicity-cli-fork-")
        path = str(Path(folder) / "socket")
        process = subprocess.Popen(
            [sys.executable, "-P", str(Path(__file__).with_name("cli_fork_server.py")), path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=os.getcwd(),
        )
        assert process.stdout is not None
        # The server says it is listening once its imports are done.
        assert process.stdout.readline() == b"ready\n"
        atexit.register(_stop, process)
        _server = (process, path)
    return _server[1]


def _stop(process: subprocess.Popen[bytes]) -> None:
    assert process.stdin is not None
    process.stdin.close()  # the server stops when its parent's pipe closes
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


async def run_cli(*args: str, env: Mapping[str, str], stdin: str | None = None) -> Result:
    """Run `fedicity *args` to completion in a forked child, as the console script would."""
    path = _socket_path()
    reader, writer = await asyncio.open_unix_connection(path)
    try:
        writer.write(json.dumps({"args": list(args), "env": dict(env), "stdin": stdin}).encode())
        writer.write_eof()
        answer = json.loads(await asyncio.wait_for(reader.read(), timeout=60))
    finally:
        writer.close()
    return Result(answer["code"], answer["stdout"], answer["stderr"])
