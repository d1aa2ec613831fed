"""The inbox's one statement about a sender (inbound/queries.py:select_sender) reads what the
separate lookups read: the most specific domain policy, the cached key, the restriction."""

from __future__ import annotations

from fedicity.actors import queries as actor_queries
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.inbound.queries import select_sender
from fedicity.moderation import queries as moderation_queries
from tests.conftest import fixed_keypairs
from tests.inbox_helpers import seed_remote_actor

ALICE = "https://social.example/users/alice"
KEY = fixed_keypairs()[0]


async def test_the_sender_statement_reads_policies_key_and_restriction(
    pool: Pool, clock: FrozenClock
) -> None:
    # Given a known actor, its domain's parent suspended, and the actor silenced
    await seed_remote_actor(pool, ALICE, KEY, clock.now())
    async with pool.acquire() as conn:
        await moderation_queries.upsert_domain_policy(conn, "example", "suspend", "spam")
        await moderation_queries.upsert_domain_policy(conn, "other.example", "silence", "noisy")
        await moderation_queries.upsert_restriction(
            conn, actor_uri=ALICE, local_actor_id=None, level="silence", reason="", now=clock.now()
        )
        # When the inbox asks about a POST signed with her key
        sender = await select_sender(
            conn,
            domains=["social.example", "other.example", "elsewhere.test"],
            key_id=ALICE + "#main-key",
            actor_uri=ALICE,
        )
    # Then each domain has its most specific policy's action, in the order asked
    assert sender.actions == {
        "social.example": "suspend",
        "other.example": "silence",
        "elsewhere.test": None,
    }
    # And the key is the cached one, and the restriction hers
    assert sender.key_owner == ALICE
    assert sender.key_pem == KEY.public_pem
    assert sender.restriction == "silence"


async def test_an_unknown_or_deleted_key_is_not_read_as_cached(
    pool: Pool, clock: FrozenClock
) -> None:
    await seed_remote_actor(pool, ALICE, KEY, clock.now())
    async with pool.acquire() as conn:
        unknown = await select_sender(
            conn, domains=["social.example"], key_id=ALICE + "#other-key", actor_uri=ALICE
        )
        await actor_queries.mark_remote_actor_deleted(conn, ALICE, clock.now())
        deleted = await select_sender(
            conn, domains=["social.example"], key_id=ALICE + "#main-key", actor_uri=ALICE
        )
    for sender in (unknown, deleted):
        assert sender.key_owner is None
        assert sender.key_pem is None
        assert sender.actions == {"social.example": None}
        assert sender.restriction is None
