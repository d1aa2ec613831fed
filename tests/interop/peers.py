"""Independent peers installed from PyPI into their own virtualenv and started on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from tests.flows.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
PEERS_DIR = Path(os.environ.get("FEDICITY_PEERS_DIR", ROOT / ".venv" / "peers"))
# bovine pins its own cryptography and PyLD, so it cannot share our virtualenv; 0.5.19's RFC 9421
# verifier needs http-sf 1.0.x.
BOVINE_REQUIREMENTS = ["bovine==0.5.19", "http-sf<1.1", "quart>=0.20,<0.23", "tomli-w"]


def bovine_python() -> Path:
    """The interpreter of bovine's virtualenv, created and installed on first use."""
    venv = PEERS_DIR / "bovine"
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if stamp.exists() and stamp.read_text() == repr(BOVINE_REQUIREMENTS):
        return python
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *BOVINE_REQUIREMENTS], check=True
    )
    stamp.write_text(repr(BOVINE_REQUIREMENTS))
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
