"""Domain policies: names, matching, what a suspension ends, Mastodon's CSV, what is published."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors.outbox import Audience, publish
from fedicity.audit import queries as audit_queries
from fedicity.audit.models import cli_actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from fedicity.moderation import domains
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation.domains import PolicyError, checked_entry
from fedicity.moderation.policy import (
    admit,
    domain_digest,
    normalize_domain,
    obfuscated,
    rejects_media,
    rejects_reports,
)
from fedicity.urls import Urls
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import seed_remote_actor

FIXTURE = Path(__file__).parent.parent / "fixtures" / "moderation" / "mastodon_domain_blocks.csv"
URLS = Urls("http://fedicity.test")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Example.ORG", "example.org"),
        ("*.example.org", "example.org"),
        ("example.org.", "example.org"),
        ("  sub.example.org ", "sub.example.org"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("127.0.0.1", "127.0.0.1"),
    ],
)
def test_a_typed_name_is_the_domain_it_stands_for(typed: str, stored: str) -> None:
    assert normalize_domain(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "*.",
        "not a domain",
        "javascript:alert(1)",
        "https://example.org/",
        "exa\x00mple.org",
        "a" * 300 + ".org",
        "*.*.example.org",
        "-bad.example",
    ],
)
def test_what_names_no_domain_is_refused(typed: str) -> None:
    assert normalize_domain(typed) is None
    with pytest.raises(PolicyError) as refused:
        checked_entry(typed, "suspend")
    assert refused.value.code == "domain_invalid"


def test_options_are_checked() -> None:
    with pytest.raises(PolicyError) as refused:
        checked_entry("example.org", "obliterate")
    assert refused.value.code == "policy_action_invalid"
    with pytest.raises(PolicyError) as refused:
        checked_entry("example.org", "noop")
    assert refused.value.code == "policy_empty"
    with pytest.raises(PolicyError) as refused:
        checked_entry("example.org", "silence", public_comment="x" * 1001)
    assert refused.value.code == "comment_too_long"


def test_an_obfuscated_name_is_mastodons() -> None:
    # Mastodon stars every letter but the first and last quarter, dots kept.
    assert obfuscated("example.com") == "exa****.*om"
    assert domain_digest("example.com") == (
        "a379a6f6eeafb9a55e378c118034e2751e682fab9f2d30ab13d2125586ce1947"
    )


async def test_a_policy_covers_subdomains_and_the_most_specific_wins(pool: Pool) -> None:
    # Given a suspension of *.evil.example (stored as evil.example) and an allow below it
    async with pool.acquire() as conn:
        for domain, action in (("*.evil.example", "suspend"), ("good.evil.example", "allow")):
            await domains.set_policy(
                conn, cli_actor(), checked_entry(domain, action), reason="", now=_now()
            )
        # Then the name and every subdomain are refused, the allowed one admitted,
        # and a name merely ending in the same letters is not covered
        verdicts = {
            host: (await admit(conn, host, allowlist_mode=False)).allowed
            for host in (
                "evil.example",
                "a.evil.example",
                "a.b.evil.example:8443",
                "good.evil.example",
                "x.good.evil.example",
                "notevil.example",
            )
        }
    assert verdicts == {
        "evil.example": False,
        "a.evil.example": False,
        "a.b.evil.example:8443": False,
        "good.evil.example": True,
        "x.good.evil.example": True,
        "notevil.example": True,
    }


async def test_allowlist_mode_admits_only_allowed_domains(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await moderation_queries.upsert_domain_policy(conn, "friends.example", "allow", "")
        await moderation_queries.upsert_domain_policy(conn, "limited.example", "silence", "")
        assert (await admit(conn, "friends.example", allowlist_mode=True)).allowed
        assert (await admit(conn, "a.friends.example", allowlist_mode=True)).allowed
        for host in ("limited.example", "stranger.example"):
            decision = await admit(conn, host, allowlist_mode=True)
            assert not decision.allowed
            assert "allowlist" in decision.reason
        # Without allowlist mode, a silence admits (it limits what pages show)
        assert (await admit(conn, "limited.example", allowlist_mode=False)).allowed


async def test_rejecting_media_and_reports_is_per_domain(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await domains.set_policy(
            conn,
            cli_actor(),
            checked_entry("pics.example", "noop", reject_media=True),
            reason="",
            now=_now(),
        )
        await domains.set_policy(
            conn,
            cli_actor(),
            checked_entry("noisy.example", "silence", reject_reports=True),
            reason="",
            now=_now(),
        )
        assert await rejects_media(conn, "cdn.pics.example")
        assert not await rejects_reports(conn, "pics.example")
        assert await rejects_reports(conn, "noisy.example:443")
        assert not await rejects_media(conn, "noisy.example")
        # A noop admits: it only takes media or reports away
        assert (await admit(conn, "pics.example", allowlist_mode=False)).allowed


async def test_a_suspension_ends_follows_both_ways_and_waiting_deliveries(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # Given camille, followed by and following Mallory of spam.example, a delivery waiting for
    # spam.example and one for a friendly server
    mallory = "https://a.spam.example/users/mallory"
    friend = "https://friends.example/users/frida"
    for uri, keypair in ((mallory, fixed_keypairs()[0]), (friend, fixed_keypairs()[1])):
        await seed_remote_actor(pool, uri, keypair, clock.now())
    async with pool.acquire() as conn:
        account = await accounts.register(
            conn, username="camille", password="long enough", keygen=keygen
        )
        camille = await actor_queries.select_actor_by_id(conn, account.actor_id)
        assert camille is not None
        mine = URLS.actor("camille")
        for follower, followee in ((mallory, mine), (mine, mallory), (friend, mine)):
            await follow_queries.upsert_follow(
                conn,
                follower=follower,
                followee=followee,
                activity_uri=f"{follower}#follow-{followee}",
                accepted=True,
                now=clock.now(),
            )
        async with conn.transaction():
            await publish(
                conn,
                actor=camille,
                activity={
                    "id": URLS.activity("like1"),
                    "type": "Like",
                    "actor": mine,
                    "object": friend + "/notes/1",
                    "to": [mallory, friend],
                },
                audience=Audience(frozenset({mallory, friend})),
                urls=URLS,
                clock=clock,
            )
        # and an activity of Mallory's and one of the friend's waiting in our inbox
        for actor in (mallory, friend):
            await conn.execute(
                """INSERT INTO inbox_items (activity_uri, actor_uri, type, raw, key_id)
                   VALUES ($1 || '#like', $1, 'Like', '{}', $1 || '#main-key')""",
                actor,
            )
        # When the admin suspends spam.example
        effects = await domains.set_policy(
            conn, cli_actor(), checked_entry("spam.example", "suspend"), reason="spam", now=_now()
        )
        # Then its follows are gone both ways, the friend's stays
        assert await follow_queries.select_follow(conn, mallory, mine) is None
        assert await follow_queries.select_follow(conn, mine, mallory) is None
        assert await follow_queries.select_follow(conn, friend, mine) is not None
        # And its delivery will never be attempted, the friend's still will
        rows = await conn.fetch("SELECT inbox, state, attempts, last_error FROM deliveries")
        states = {row["inbox"]: (row["state"], row["attempts"]) for row in rows}
        # (shared inboxes, as actor_document publishes them)
        assert states == {
            "https://a.spam.example/inbox": ("failed", 0),
            "https://friends.example/inbox": ("pending", 0),
        }
        # And Mallory's waiting activity will not be processed, the friend's will
        waiting = await conn.fetch("SELECT actor_uri, state FROM inbox_items ORDER BY id")
        assert [(r["actor_uri"], r["state"]) for r in waiting] == [
            (mallory, "ignored"),
            (friend, "pending"),
        ]
        # And the audit log says who, what, why and what it ended
        entries = await audit_queries.select_page(conn, limit=5)
    assert (effects.follows, effects.deliveries, effects.inbox_items) == (2, 1, 1)
    assert [(e.action, e.target, e.reason) for e in entries] == [
        ("domain.suspend", "spam.example", "spam")
    ]
    assert entries[0].details["follows"] == 2


async def test_lifting_is_audited_and_only_an_exact_domain_is_lifted(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await domains.set_policy(
            conn, cli_actor(), checked_entry("x.example", "silence"), reason="", now=_now()
        )
        assert not await domains.lift_policy(
            conn, cli_actor(), "a.x.example", reason="", now=_now()
        )
        assert await domains.lift_policy(
            conn, cli_actor(), "*.x.example", reason="made amends", now=_now()
        )
        assert await moderation_queries.select_domain_policy(conn, "x.example") is None
        entries = await audit_queries.select_page(conn, limit=5)
    assert [(e.action, e.reason) for e in entries] == [
        ("domain.lift", "made amends"),
        ("domain.silence", ""),
    ]


def test_mastodons_csv_is_read_whole() -> None:
    parsed = domains.parse_csv(FIXTURE.read_text())
    assert parsed.errors == []
    by_domain = {entry.domain: entry for entry in parsed.entries}
    assert by_domain["badplace.example"] == domains.PolicyEntry(
        "badplace.example",
        "suspend",
        reject_media=True,
        reject_reports=True,
        public_comment="Harassment campaigns against our members",
        obfuscate=True,
    )
    assert by_domain["cdn-images.example"].action == "noop"
    assert by_domain["spam-relay.example"].public_comment == 'Spam; "free followers" offers'


def test_other_csv_shapes_and_bad_lines() -> None:
    # A header without '#', a plain list of names, and lines that are refused by number
    bare = domains.parse_csv("domain,severity\nA.example,silence\n")
    assert [(e.domain, e.action) for e in bare.entries] == [("a.example", "silence")]
    plain = domains.parse_csv("one.example\n*.two.example\n\n")
    assert [(e.domain, e.action) for e in plain.entries] == [
        ("one.example", "suspend"),
        ("two.example", "suspend"),
    ]
    bad = domains.parse_csv(
        "#domain,#severity,#reject_media\nok.example,suspend,false\n"
        "javascript:alert(1),suspend,false\nx.example,obliterate,false\ny.example,silence,maybe\n"
    )
    assert [e.domain for e in bad.entries] == ["ok.example"]
    assert [line for line, _why in bad.errors] == [3, 4, 5]
    assert domains.parse_csv("a.example\x00\n").errors == [(0, "the file holds a NUL character")]
    # A field past the csv module's limit is a refusal, not a crash
    huge = domains.parse_csv('#domain,#public_comment\nx.example,"' + "y" * 200_000 + '"\n')
    assert huge.entries == []
    assert "not a CSV file" in huge.errors[0][1]


def test_the_export_is_mastodons_and_keeps_formulas_as_text() -> None:
    parsed = domains.parse_csv(
        '#domain,#severity,#public_comment\nx.example,silence,"=HYPERLINK(""http://x"")"\n'
    )
    policies = [
        moderation_queries.DomainPolicy(
            domain=e.domain,
            action=e.action,
            reason="",
            created_at=_now(),
            public_comment=e.public_comment,
        )
        for e in parsed.entries
    ]
    exported = domains.export_csv(policies)
    assert exported.splitlines() == [
        "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate",
        'x.example,silence,false,false,"\'=HYPERLINK(""http://x"")",false',
    ]
    # And read back, the comment is what it was (the round trip stays lossless)
    [again] = domains.parse_csv(exported).entries
    assert again.public_comment == '=HYPERLINK("http://x")'
    [kept] = domains.parse_csv("#domain,#public_comment\nx.example,'quoted'\n").entries
    assert kept.public_comment == "'quoted'"


async def test_an_import_dry_run_saves_nothing_and_a_real_one_keeps_private_comments(
    pool: Pool,
) -> None:
    entries = domains.parse_csv(FIXTURE.read_text()).entries
    async with pool.acquire() as conn:
        await domains.set_policy(
            conn,
            cli_actor(),
            checked_entry("gab.example", "silence"),
            reason="known since 2019",
            now=_now(),
        )
        dry = await domains.import_entries(
            conn, cli_actor(), entries, reason="import", now=_now(), dry_run=True
        )
        assert (len(dry.added), dry.changed) == (5, ["gab.example"])
        assert len(await moderation_queries.select_domain_policies(conn, limit=100)) == 1
        done = await domains.import_entries(conn, cli_actor(), entries, reason="import", now=_now())
        again = await domains.import_entries(
            conn, cli_actor(), entries, reason="import", now=_now()
        )
        gab = await moderation_queries.select_exact_domain_policy(conn, "gab.example")
        exported = domains.export_csv(
            await moderation_queries.select_blocking_policies(conn, limit=100)
        )
        actions = [e.action for e in await audit_queries.select_page(conn, limit=10)]
    assert (len(done.added), done.changed) == (5, ["gab.example"])
    assert (again.added, again.changed, len(again.unchanged)) == ([], [], 6)
    assert gab is not None
    assert (gab.action, gab.reason) == ("suspend", "known since 2019")
    assert exported == FIXTURE.read_text()
    assert actions == ["domain.import", "domain.silence"]


def test_what_is_published() -> None:
    policies = [
        moderation_queries.DomainPolicy(
            "hidden.example", "suspend", "private", _now(), public_comment="abuse", obfuscate=True
        ),
        moderation_queries.DomainPolicy(
            "loud.example", "silence", "", _now(), reject_reports=True, public_comment="spam"
        ),
        moderation_queries.DomainPolicy("pics.example", "noop", "", _now(), reject_media=True),
        moderation_queries.DomainPolicy("friend.example", "allow", "", _now()),
    ]
    published = domains.published(policies)
    assert [p.domain for p in published] == ["hidd**.****ple", "loud.example", "pics.example"]
    assert domains.mastodon_domain_blocks(published) == [
        {
            "domain": "hidd**.****ple",
            "digest": domain_digest("hidden.example"),
            "severity": "suspend",
            "comment": "abuse",
        },
        {
            "domain": "loud.example",
            "digest": domain_digest("loud.example"),
            "severity": "silence",
            "comment": "spam",
        },
    ]
    federation = domains.nodeinfo_federation(policies, allowlist_mode=False)
    assert federation["mrf_simple"] == {
        "reject": [],
        "federated_timeline_removal": ["loud.example"],
        "media_removal": ["pics.example"],
        "report_removal": ["loud.example"],
        "accept": [],
    }
    assert federation["mrf_simple_info"] == {
        "federated_timeline_removal": {"loud.example": {"reason": "spam"}},
        "report_removal": {"loud.example": {"reason": "spam"}},
    }
    assert federation["exclusions"] is True
    listed = domains.nodeinfo_federation(policies, allowlist_mode=True)
    assert listed["mrf_simple"]["accept"] == ["friend.example"]  # type: ignore[index]


def _now() -> datetime:
    return FrozenClock().now()
