"""bovine's own test server as an independent peer, run in bovine's virtualenv (not ours).

  python bovine_peer.py PORT
serves bovine.testing.server (acct:buttercup@127.0.0.1:PORT, inbox verified by bovine's
signature checker) plus endpoints for the test to drive it:
  GET  /_received         every POST to the inbox, with bovine's verdict
  POST /_follow {target}  bovine signs and sends Follow(target) to the target's inbox
  POST /_create {target, content}   bovine signs and sends Create(Note) addressed to target
  POST /_send {inbox, activity, tamper}  bovine signs and sends any activity (tamper alters the
                          body after signing)
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from typing import Any
from urllib.parse import urlsplit


def _offline_jsonld() -> None:
    # bovine resolves unknown JSON-LD contexts over the network; this machine has none, so refuse
    # every non-loopback context URL at once instead of waiting for DNS failures.
    import bovine.jsonld as bovine_jsonld

    factory = bovine_jsonld.requests_document_loader

    def offline_factory(*args: Any, **kwargs: Any) -> Any:
        loader = factory(*args, **kwargs)

        def load(url: str, options: Any = None) -> Any:
            host = urlsplit(url).hostname or ""
            if host != "localhost" and not host.startswith("127."):
                raise ValueError(f"offline: not fetching {url}")
            return loader(url, options or {})

        return load

    bovine_jsonld.requests_document_loader = offline_factory


def main() -> None:
    port = int(sys.argv[1])
    _offline_jsonld()
    import aiohttp
    from bovine.clients.signed_http_methods import signed_post
    from bovine.crypto import generate_rsa_public_private_key
    from bovine.testing.server import ServerConfig, create_app
    from quart import request

    public, private = generate_rsa_public_private_key()
    config = ServerConfig(
        protocol="http",
        hostname=f"127.0.0.1:{port}",
        handle_name="buttercup",
        public_key=public,
        private_key=private,
    )
    app = create_app(config)
    received: list[dict[str, Any]] = []
    me = config.actor_id
    actor = config.create_actor()

    @app.before_serving
    async def start_client() -> None:
        app.config["session"] = aiohttp.ClientSession()
        await actor.init(session=app.config["session"])

    @app.after_request
    async def remember(response: Any) -> Any:
        if request.method == "POST" and request.path == "/inbox":
            body = await request.get_data(as_text=True)
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            received.append(
                {
                    "status": response.status_code,
                    "verified": response.status_code < 300,
                    "type": parsed.get("type") if isinstance(parsed, dict) else None,
                    "actor": parsed.get("actor") if isinstance(parsed, dict) else None,
                    "body": parsed,
                    "signature": request.headers.get("signature"),
                }
            )
        return response

    @app.get("/_received")
    async def list_received() -> Any:
        return received

    async def inbox_of(target: str) -> str:
        document = await actor.get(target)
        return str(document["inbox"])

    async def send(inbox: str, activity: dict[str, Any], tamper: bool = False) -> dict[str, Any]:
        body = json.dumps(activity)
        session = app.config["session"]
        if tamper:

            class Tampering:
                async def post(self, url: str, data: str, headers: Any) -> Any:
                    return await session.post(
                        url, data=data.replace("Hello", "Goodbye"), headers=headers
                    )

            response = await signed_post(
                Tampering(), actor.client.secret, inbox, body, actor.client.digest_method
            )
        else:
            response = await actor.client.post(inbox, body)
        return {"status": response.status, "text": (await response.text())[:300]}

    @app.post("/_follow")
    async def follow() -> Any:
        target = (await request.get_json())["target"]
        activity = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{me}/follow/{secrets.token_hex(8)}",
            "type": "Follow",
            "actor": me,
            "object": target,
        }
        return await send(await inbox_of(target), activity)

    @app.post("/_create")
    async def create() -> Any:
        data = await request.get_json()
        target, nid = data["target"], secrets.token_hex(8)
        note = {
            "id": f"{me}/note/{nid}",
            "type": "Note",
            "attributedTo": me,
            "content": data["content"],
            "published": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "to": [target],
            "cc": [],
        }
        activity = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{me}/create/{nid}",
            "type": "Create",
            "actor": me,
            "object": note,
            "to": [target],
            "cc": [],
        }
        result = await send(await inbox_of(target), activity)
        result["note"] = note["id"]
        return result

    @app.post("/_send")
    async def send_any() -> Any:
        data = await request.get_json()
        return await send(data["inbox"], data["activity"], bool(data.get("tamper")))

    app.run(host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
