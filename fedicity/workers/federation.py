"""The long-lived federation services of a process: HTTP client, fetcher, actor directory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from fedicity.activitypub.fetch import FetchPolicy, user_agent_for
from fedicity.activitypub.fetcher import Fetcher, new_http_client
from fedicity.activitypub.httpsig import SigningKey
from fedicity.activitypub.keys import KeyGenerator, generate_rsa_keypair, load_private_key
from fedicity.actors import service as actor_service
from fedicity.actors.remote import ActorDirectory
from fedicity.clock import Clock
from fedicity.db.pool import Pool
from fedicity.moderation.policy import host_refusal
from fedicity.settings import Settings
from fedicity.urls import Urls

if TYPE_CHECKING:
    # aiohttp is imported when federation starts: most `fedicity` commands never deliver.
    from fedicity.activitypub.fetch.poster import DeliveryClient


@dataclass
class Federation:
    """What web handlers and workers share to talk to other servers."""

    client: httpx.AsyncClient
    fetcher: Fetcher
    directory: ActorDirectory
    owns_client: bool
    keygen: KeyGenerator = generate_rsa_keypair
    allowlist_mode: bool = False
    # Key fetches' own client (see Fetcher.key_client); always opened here.
    key_client: httpx.AsyncClient | None = None
    # Deliveries' own client (aiohttp, built for fan-out); always opened here.
    delivery_client: DeliveryClient | None = None
    delivery_concurrency: int = Settings.delivery_concurrency
    delivery_per_host: int = Settings.delivery_per_host

    async def close(self) -> None:
        """Close the HTTP clients this object opened."""
        if self.owns_client:
            await self.client.aclose()
        if self.key_client is not None:
            await self.key_client.aclose()
        if self.delivery_client is not None:
            await self.delivery_client.aclose()


async def start_federation(
    pool: Pool,
    settings: Settings,
    *,
    clock: Clock,
    keygen: KeyGenerator,
    client: httpx.AsyncClient | None = None,
) -> Federation:
    """Load the instance actor's key and build the fetcher and directory."""
    from fedicity.activitypub.fetch.poster import new_delivery_client

    urls = Urls(settings.base_url)
    async with pool.acquire() as conn:
        instance = await actor_service.ensure_instance_actor(conn, keygen=keygen)
    private = settings.allow_private_addresses
    http = client or new_http_client(allow_private_addresses=private)
    key_http = new_http_client(
        allow_private_addresses=private,
        max_connections=settings.key_fetch_connections,
        timeout=settings.key_fetch_timeout,
    )

    # Suspended domains (and, in allowlist mode, unlisted ones) are never fetched from.
    refuse_host = host_refusal(pool, allowlist_mode=settings.federation_allowlist)
    fetcher = Fetcher(
        client=http,
        policy=FetchPolicy(allow_private_addresses=settings.allow_private_addresses),
        signing_key=SigningKey(urls.instance_actor_key, load_private_key(instance.private_key_pem)),
        clock=clock,
        user_agent=user_agent_for(settings.base_url),
        refuse_host=refuse_host,
        local_base=settings.base_url,
        key_client=key_http,
        key_policy=FetchPolicy(
            allow_private_addresses=settings.allow_private_addresses,
            timeout=settings.key_fetch_timeout,
        ),
    )
    return Federation(
        client=http,
        fetcher=fetcher,
        directory=ActorDirectory(
            pool=pool,
            fetcher=fetcher,
            urls=urls,
            key_fetches_per_host=settings.key_fetches_per_host,
        ),
        owns_client=client is None,
        keygen=keygen,
        allowlist_mode=settings.federation_allowlist,
        key_client=key_http,
        delivery_client=new_delivery_client(
            allow_private_addresses=private, per_host=settings.delivery_per_host
        ),
        delivery_concurrency=settings.delivery_concurrency,
        delivery_per_host=settings.delivery_per_host,
    )
