"""Inbox sinks for bench/delivery.py: --hosts HTTP servers on 127.0.0.1 that answer 202 to every
POST, count them, and verify the HTTP signature of one POST in --verify-every.

Run by bench/delivery.py in its own process (so the sinks' CPU is not counted as fedicity's):

    python -m bench.sink --hosts 4 --verify-every 10 --public-key sender.pem --key-id URL

It prints `PORTS p1,p2,...` once listening, and answers `GET /_stats` on every port with that
host's counts as JSON. SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import MiniHttpServer
from fedicity.activitypub.httpsig import SignatureFailure, parse_signature, verify
from fedicity.activitypub.keys import load_public_key


@dataclass
class Stats:
    """What one host saw."""

    posts: int = 0
    verified: int = 0
    failed: int = 0
    wrong_key_id: int = 0
    last_failure: str = ""


class Sink:
    """One host: counts POSTs, checks a sample of signatures against the sender's key."""

    def __init__(self, public_pem: str, key_id: str, verify_every: int) -> None:
        self.public_key = load_public_key(public_pem)
        self.key_id = key_id
        self.verify_every = verify_every
        self.stats = Stats()
        self.server = MiniHttpServer(self._handle)

    def _handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if method == "GET" and target == "/_stats":
            return (
                200,
                {"Content-Type": "application/json"},
                json.dumps(asdict(self.stats)).encode(),
            )
        if method != "POST":
            return 404, {}, b""
        self.stats.posts += 1
        if self.verify_every and self.stats.posts % self.verify_every == 1 % self.verify_every:
            self._check(target, headers, body)
        return 202, {}, b""

    def _check(self, target: str, headers: dict[str, str], body: bytes) -> None:
        url = self.server.base + target
        parsed = parse_signature("POST", url, headers)
        if isinstance(parsed, SignatureFailure):
            self.stats.failed += 1
            self.stats.last_failure = parsed.detail
            return
        if parsed.key_id != self.key_id:
            self.stats.wrong_key_id += 1
        failure = verify(
            parsed,
            self.public_key,
            method="POST",
            body=body,
            headers=headers,
            now=datetime.now(UTC),
            authority=urlsplit(url).netloc,
        )
        if failure is None:
            self.stats.verified += 1
        else:
            self.stats.failed += 1
            self.stats.last_failure = failure.detail


async def main(args: argparse.Namespace, public_pem: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sinks = [Sink(public_pem, args.key_id, args.verify_every) for _ in range(args.hosts)]
    for sink in sinks:
        await sink.server.start()
    print("PORTS " + ",".join(str(sink.server.port) for sink in sinks), flush=True)
    await stop.wait()
    for sink in sinks:
        await sink.server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Counting, verifying inbox sinks.")
    parser.add_argument("--hosts", type=int, required=True)
    parser.add_argument("--verify-every", type=int, default=10, help="0: verify none")
    parser.add_argument("--public-key", required=True, help="PEM file of the sender's public key")
    parser.add_argument("--key-id", required=True, help="the keyId the sender must use")
    arguments = parser.parse_args()
    asyncio.run(main(arguments, Path(arguments.public_key).read_text()))
