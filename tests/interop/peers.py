"""Independent peers installed from PyPI into their own virtualenv and started on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx

from tests.flows.harness import free_port

# bovine pins its own cryptography and PyLD, so it cannot share our virtualenv; 0.5.19's RFC 9421
# verifier needs http-sf 1.0.x.
BOVINE_REQUIREMENTS = ["bovine==0.5.19", "http-sf<1.1", "quart>=0.20,<0.23", "tomli-w"]


def peers_dir() -> Path:
    """Where the peers are installed: FEDICITY_PEERS_DIR, else the user's cache directory, shared
    by every clone and run on this machine (a fresh machine pays the install once, ~1 min)."""
    configured = os.environ.get("FEDICITY_PEERS_DIR")
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "fedicity" / "test-peers"


def peer_folder(name: str, pins: object) -> Path:
    """The folder of one peer at the pinned versions: other pins install elsewhere."""
    digest = hashlib.sha256(repr(pins).encode()).hexdigest()[:12]
    return peers_dir() / f"{name}-{digest}"


@contextlib.contextmanager
def installing(folder: Path) -> Iterator[None]:
    """Hold the folder's lock while it is checked or installed: runs and xdist workers share it."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with (folder.parent / f"{folder.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def bovine_python() -> Path:
    """The interpreter of bovine's virtualenv, created and installed on first use."""
    pins = (BOVINE_REQUIREMENTS, sys.version_info[:2])
    venv = peer_folder("bovine", pins)
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    with installing(venv):
        if stamp.exists() and stamp.read_text() == repr(pins):
            return python
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *BOVINE_REQUIREMENTS], check=True
        )
        stamp.write_text(repr(pins))
    return python


@contextlib.asynccontextmanager
async def bovine_peer(work_dir: Path) -> AsyncIterator[str]:
    """Run bovine's test server on 127.0.0.1 and yield its base URL."""
    python = await asyncio.to_thread(bovine_python)
    port = free_port()
    log = (work_dir / "bovine.log").open("w")
    # bovine writes a JSON-LD cache into its working directory.
    process = subprocess.Popen(  # noqa: ASYNC220 -- starting it is instant; we poll it below
        [str(python), str(Path(__file__).with_name("bovine_peer.py")), str(port)],
        cwd=work_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                if process.poll() is not None:
                    raise RuntimeError(f"bovine exited: {(work_dir / 'bovine.log').read_text()}")
                try:
                    if (await client.get(f"{base}/_received")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("bovine did not start")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
