"""The server of tests/cli_fork.py: imports the command once, then forks a child per call.

Run as `python -P tests/cli_fork_server.py SOCKET` (-P: the tests folder, whose packages have
generic names, is not put on the import path)."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import sys
import tempfile
from typing import Any


def _receive(conn: socket.socket) -> dict[str, Any]:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    request: dict[str, Any] = json.loads(b"".join(chunks))
    return request


def _child(conn: socket.socket, request: dict[str, Any]) -> None:
    """Run the command with the request's environment and standard streams; answer; exit."""
    from fedicity.cli.main import main

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.environ.clear()
    os.environ.update(request["env"])
    streams = [tempfile.TemporaryFile() for _ in range(3)]  # noqa: SIM115 -- open until exit
    if request["stdin"] is not None:
        streams[0].write(request["stdin"].encode())
        streams[0].seek(0)
    for fd, stream in enumerate(streams):
        os.dup2(stream.fileno(), fd)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 -- the process's own
    code: int
    try:
        code = main(request["args"])
    except SystemExit as leaving:  # what the interpreter makes of sys.exit(...)
        if leaving.code is None:
            code = 0
        elif isinstance(leaving.code, int):
            code = leaving.code
        else:
            print(leaving.code, file=sys.stderr)
            code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    outputs = []
    for stream in streams[1:]:
        stream.seek(0)
        outputs.append(stream.read().decode(errors="replace"))
    conn.sendall(json.dumps({"code": code, "stdout": outputs[0], "stderr": outputs[1]}).encode())
    conn.close()


def _serve(path: str) -> None:
    import fedicity.cli.main  # noqa: F401 -- the imports every child shares

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    events = selectors.DefaultSelector()
    events.register(listener, selectors.EVENT_READ)
    events.register(0, selectors.EVENT_READ)
    while True:
        for key, _ in events.select():
            if key.fileobj == 0:
                if not os.read(0, 4096):  # the test process is gone
                    os.unlink(path)
                    os.rmdir(os.path.dirname(path))
                    return
                continue
            conn, _ = listener.accept()
            request = _receive(conn)
            if os.fork() == 0:
                listener.close()
                events.close()
                try:
                    _child(conn, request)
                finally:
                    os._exit(0)
            conn.close()


if __name__ == "__main__":
    _serve(sys.argv[1])
