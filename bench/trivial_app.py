"""A trivial Quart app: the floor that fedicity's web process is compared with, served as
fedicity serves (`--server uvicorn`: uvicorn with httptools on uvloop, the default; or
`--server hypercorn` on asyncio's loop, as fedicity served before uvicorn).

bench/inbox.py starts it in its own process (`python -m bench.trivial_app --port N`) and sends it
the same requests as fedicity: POST /inbox answers 202 after reading the body (POST
/inbox-no-body too, but the way fedicity builds its 202, see below), and
GET /actors/<name> answers a fixed ActivityStreams document of about an actor's size. No
database, no signature check, no hooks: Quart + the server + the HTTP client and nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, Response, request

from fedicity.cli.lifecycle import run_event_loop, serve_asgi
from fedicity.settings import Settings

ACTOR_BODY = json.dumps(
    {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": "http://127.0.0.1/actors/citizen",
        "type": "Person",
        "preferredUsername": "citizen",
        "name": "Citizen",
        "summary": "",
        "inbox": "http://127.0.0.1/actors/citizen/inbox",
        "outbox": "http://127.0.0.1/actors/citizen/outbox",
        "followers": "http://127.0.0.1/actors/citizen/followers",
        "following": "http://127.0.0.1/actors/citizen/following",
        "endpoints": {"sharedInbox": "http://127.0.0.1/inbox"},
        "publicKey": {
            "id": "http://127.0.0.1/actors/citizen#main-key",
            "owner": "http://127.0.0.1/actors/citizen",
            "publicKeyPem": "-----BEGIN PUBLIC KEY-----\n"
            + "A" * 392
            + "\n-----END PUBLIC KEY-----",
        },
    }
).encode()

app = Quart(__name__)


@app.post("/inbox")
async def inbox() -> tuple[str, int]:
    """Read the body, answer 202 with an empty body."""
    await request.get_data()
    return "", 202


@app.post("/inbox-no-body")
async def inbox_no_body() -> Response:
    """The same, answered as fedicity's inbox does: Response(status=202), without a body.

    Quart turns a missing body into an iterable body of [] that it iterates in its thread pool,
    so this costs a thread hand-off per request that `/inbox` does not pay.
    """
    await request.get_data()
    return Response(status=202)


@app.get("/actors/<name>")
async def actor(name: str) -> Response:
    """A fixed actor document."""
    return Response(ACTOR_BODY, content_type="application/activity+json")


async def main(port: int, server: str) -> None:
    """Serve until SIGTERM or SIGINT, with the server fedicity uses for the same setting."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if server == "uvicorn":
        # The same function fedicity serves with: same options, same loop.
        await serve_asgi(app, Settings(server=server), listen=f"127.0.0.1:{port}", stop=stop)
        return
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    await serve(app, config, shutdown_trigger=stop.wait)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--server", choices=("uvicorn", "hypercorn"), default="uvicorn")
    args = parser.parse_args()
    if args.server == "uvicorn":
        run_event_loop(main(args.port, args.server))
    else:
        asyncio.run(main(args.port, args.server))
