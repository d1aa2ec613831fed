"""Independent peers installed from PyPI into their own virtualenv and started on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path

import httpx

from tests.flows.harness import free_port

# bovine pins its own cryptography and PyLD, so it cannot share our virtualenv; 0.5.19's RFC 9421
# verifier needs http-sf 1.0.x.
BOVINE_REQUIREMENTS = ["bovine==0.5.19", "http-sf<1.1", "quart>=0.20,<0.23", "tomli-w"]
# Fedify 2 needs Node 22, which npm installs beside it.
FEDIFY_PACKAGES = ["node@22", "@fedify/fedify@2.3.6"]
FEDIFY_SCRIPT = Path(__file__).resolve().parents[1] / "fixtures" / "ldsig" / "fedify_vector.mjs"


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


def prefetch(nodeids: Iterable[str]) -> None:
    """Start installing, in the background, the peers the selected tests need: on a cold cache
    the install (~1 min) then overlaps other tests instead of running inside one (and inside its
    timeout). The tests wait on the same lock; a failed install is theirs to report."""
    files = {nodeid.split("::")[0] for nodeid in nodeids}
    wanted: list[Callable[[], Path]] = []
    if any(name.startswith("tests/interop/") for name in files):
        wanted.append(bovine_python)
    if "tests/activitypub/test_ldsig_fedify.py" in files:
        wanted.append(fedify_script)
    for install in wanted:
        threading.Thread(target=_quietly, args=(install,), daemon=True).start()


def _quietly(install: Callable[[], Path]) -> None:
    with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
        install()


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


def fedify_script() -> Path:
    """The script, in the folder where Fedify is installed (once): ESM resolves packages from
    the script's own folder."""
    folder = peer_folder("fedify", FEDIFY_PACKAGES)
    stamp = folder / ".installed"
    with installing(folder):
        if not (stamp.exists() and stamp.read_text() == repr(FEDIFY_PACKAGES)):
            npm = shutil.which("npm")
            assert npm is not None, "this test installs Fedify with npm (make needs npm too)"
            folder.mkdir(parents=True, exist_ok=True)
            package = folder / "package.json"
            if not package.exists():
                package.write_text('{"name": "fedify-ldsig", "private": true, "type": "module"}')
            subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", *FEDIFY_PACKAGES],
                cwd=folder,
                check=True,
                timeout=600,
            )
            stamp.write_text(repr(FEDIFY_PACKAGES))
    # Named by its content: a run of another clone may be reading its own version.
    script = (
        folder
        / f"{FEDIFY_SCRIPT.stem}-{hashlib.sha256(FEDIFY_SCRIPT.read_bytes()).hexdigest()[:12]}.mjs"
    )
    if not script.exists():
        partial = script.with_suffix(f".{os.getpid()}")
        shutil.copy(FEDIFY_SCRIPT, partial)
        partial.replace(script)
    return script


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
