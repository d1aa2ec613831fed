"""The full-text search (fedicity/search) on a real PostgreSQL: French stemming and accents, names
as typed, ranking, what a visitor may not see, websearch syntax, keyset pages, hostile text."""

from __future__ import annotations

from pathlib import Path

from fedicity.actors import service as actor_service
from fedicity.db.pool import Pool
from fedicity.moderation import queries as moderation_queries
from fedicity.search import service
from fedicity.search.models import KINDS, MAX_QUERY_CHARS, Kind, Results, SearchRefusal
from fedicity.settings import Settings
from fedicity.territories.service import prepare_serving
from tests.conftest import FixedKeys, fixed_keypairs
from tests.search import helpers
from tests.search.helpers import URLS
from tests.territory_helpers import import_slice

KEY = fixed_keypairs()[1]
ALICE = "https://social.example/users/alice"
SUSPENDED = "https://spam.example/users/bot"


async def run(pool: Pool, text: str, kinds: tuple[Kind, ...] = KINDS, limit: int = 20) -> Results:
    """A search that must run."""
    async with pool.acquire() as conn:
        found = await service.search(conn, text, urls=URLS, kinds=kinds, limit=limit)
    assert isinstance(found, Results), found
    return found


async def refused(pool: Pool, text: str) -> str:
    """The code a search that must be refused is refused with."""
    async with pool.acquire() as conn:
        found = await service.search(conn, text, urls=URLS, kinds=KINDS, limit=5)
    assert isinstance(found, SearchRefusal), found
    return found.code


async def titles(pool: Pool, text: str) -> list[str]:
    """The titles of the events found, best first."""
    return [hit.title for hit in (await run(pool, text, ("events",))).events.hits]


async def test_french_stemming_and_accents_match_both_ways(pool: Pool, keygen: FixedKeys) -> None:
    # Given events written with accents, plurals and conjugations
    camille = await helpers.person(pool, keygen, "camille", "Camille Martin")
    me = URLS.actor("camille")
    await helpers.event(pool, "Atelier de réparation de vélo", organizer=me, local=camille)
    await helpers.event(pool, "Fête des écoles", organizer=me, local=camille)
    await helpers.event(pool, "Marché de Noël", organizer=me, local=camille)
    # Then plural, accent-free, upper-case and conjugated forms find them
    for typed in ("vélos", "velo", "VÉLO", "réparations", "reparer"):
        assert await titles(pool, typed) == ["Atelier de réparation de vélo"], typed
    assert await titles(pool, "ecole") == ["Fête des écoles"]
    assert await titles(pool, "FETES") == ["Fête des écoles"]
    assert await titles(pool, "noel marches") == ["Marché de Noël"]
    # And a word none of them holds finds nothing
    assert await titles(pool, "piscine") == []


async def test_a_title_outranks_a_description_and_a_place_is_searched(
    pool: Pool, keygen: FixedKeys
) -> None:
    camille = await helpers.person(pool, keygen, "camille")
    me = URLS.actor("camille")
    # Given the word in one event's description, in another's title, in a third's place
    await helpers.event(
        pool,
        "Rencontre du quartier",
        organizer=me,
        local=camille,
        description="On parlera aussi du jardin partagé.",
    )
    await helpers.event(pool, "Le jardin partagé ouvre", organizer=me, local=camille)
    await helpers.event(
        pool, "Pique-nique", organizer=me, local=camille, place="Jardin des Murs à pêches"
    )
    # Then the title comes first, the place next, the description last
    assert await titles(pool, "jardins") == [
        "Le jardin partagé ouvre",
        "Pique-nique",
        "Rencontre du quartier",
    ]
    # And a place alone is found by its name
    assert await titles(pool, "murs a peches") == ["Pique-nique"]


async def test_names_are_found_as_typed_as_well_as_stemmed(
    pool: Pool, keygen: FixedKeys, tmp_path: Path
) -> None:
    # Given a person, an organisation named with French stop words, a served territory,
    # and a remote actor we cached
    await helpers.person(pool, keygen, "cmartin", "Camille Martin", "Bénévole au jardin")
    await helpers.organization(pool, keygen, "lesunes", "Les Unes")
    await import_slice(pool, tmp_path / "slice")
    settings = Settings(
        base_url="http://fedicity.test",
        data_dir=tmp_path,
        secret_key="test-secret-key-that-is-long-enough",
        territory_level="commune",
        territory_code="93048",
    )
    await prepare_serving(pool, settings)
    await helpers.remote_actor(pool, KEY, ALICE, "alice", "Alice Dupré")

    async def names(text: str) -> list[tuple[str, bool]]:
        return [(hit.name, hit.local) for hit in (await run(pool, text, ("actors",))).actors.hits]

    # Then each is found by its name, its handle, or words of its description
    assert await names("camille") == [("Camille Martin", True)]
    assert await names("cmartin") == [("Camille Martin", True)]
    assert await names("benevoles") == [("Camille Martin", True)]
    assert await names("les unes") == [("Les Unes", True)]
    assert await names("Montreuil") == [("Montreuil", True)]
    assert await names("alice dupre") == [("Alice Dupré", False)]
    # And a territory names its page's place in the tree, a remote actor its own id
    [territory] = (await run(pool, "montreuil", ("actors",))).actors.hits
    assert (territory.kind, territory.territory_level, territory.territory_code) == (
        "territory",
        "commune",
        "93048",
    )
    [alice] = (await run(pool, "alice", ("actors",))).actors.hits
    assert alice.uri == ALICE
    assert alice.domain == "social.example"
    # And the instance actor is never found, though its row matches
    async with pool.acquire() as conn:
        instance = await actor_service.ensure_instance_actor(conn, keygen=keygen)
        assert await conn.fetchval(
            "SELECT search_vector @@ plainto_tsquery('simple', $1) FROM actors WHERE id = $2",
            instance.username,
            instance.id,
        )
    assert await names(instance.username) == []


async def test_what_a_visitor_may_not_see_is_never_found(pool: Pool, keygen: FixedKeys) -> None:
    camille = await helpers.person(pool, keygen, "camille", "Camille Potager")
    hidden = await helpers.person(pool, keygen, "dominique", "Dominique Potager")
    await helpers.hide(pool, hidden)
    me, them = URLS.actor("camille"), URLS.actor("dominique")
    await helpers.remote_actor(pool, KEY, ALICE, "alice", "Alice Potager")
    await helpers.remote_actor(
        pool, KEY, "https://social.example/users/shy", "shy", "Shy Potager", discoverable=False
    )
    await helpers.remote_actor(
        pool, KEY, "https://social.example/users/quiet", "quiet", "Quiet", indexable=False
    )
    await helpers.remote_actor(pool, KEY, SUSPENDED, "bot", "Bot Potager")
    async with pool.acquire() as conn:
        await moderation_queries.upsert_domain_policy(conn, "spam.example", "suspend", "spam")
    # Given posts of every visibility, deleted ones, and posts of authors who opted out
    await helpers.post(pool, "potager public", author=me, local=camille)
    await helpers.post(pool, "potager unlisted", author=me, local=camille, visibility="unlisted")
    await helpers.post(pool, "potager followers", author=me, local=camille, visibility="followers")
    await helpers.post(pool, "potager direct", author=me, local=camille, visibility="direct")
    gone = await helpers.post(pool, "potager deleted", author=me, local=camille)
    await helpers.delete_post(pool, gone)
    await helpers.post(pool, "potager hidden author", author=them, local=hidden)
    await helpers.post(pool, "potager remote", author=ALICE)
    await helpers.post(pool, "potager not indexable", author="https://social.example/users/quiet")
    await helpers.post(pool, "potager suspended", author=SUSPENDED)
    # ... events private and deleted, proposals in draft
    await helpers.event(pool, "Potager ouvert", organizer=me, local=camille)
    await helpers.event(pool, "Potager privé", organizer=me, local=camille, public=False)
    deleted = await helpers.event(pool, "Potager supprimé", organizer=me, local=camille)
    await helpers.delete_event(pool, deleted)
    await helpers.event(pool, "Potager lointain", organizer=SUSPENDED)
    await helpers.proposal(pool, "Un potager en vote", author=camille)
    await helpers.proposal(pool, "Un potager en brouillon", author=camille, state="draft")
    # When anyone searches
    found = await run(pool, "potager")
    # Then only what they may see comes back
    assert sorted(hit.name for hit in found.actors.hits) == ["Alice Potager", "Camille Potager"]
    assert sorted(hit.excerpt for hit in found.posts.hits) == ["potager public", "potager remote"]
    assert [hit.title for hit in found.events.hits] == ["Potager ouvert"]
    assert [hit.title for hit in found.proposals.hits] == ["Un potager en vote"]


async def test_quotes_minus_and_or_work_as_on_a_search_engine(
    pool: Pool, keygen: FixedKeys
) -> None:
    camille = await helpers.person(pool, keygen, "camille")
    me = URLS.actor("camille")
    await helpers.event(pool, "Vide-grenier de printemps", organizer=me, local=camille)
    await helpers.event(pool, "Grenier ouvert, vide le matin", organizer=me, local=camille)
    await helpers.event(pool, "Vide-grenier annulé", organizer=me, local=camille)
    await helpers.event(pool, "Concert au parc", organizer=me, local=camille)
    # A phrase in quotes keeps its words side by side and in order
    assert sorted(await titles(pool, '"vide grenier"')) == [
        "Vide-grenier annulé",
        "Vide-grenier de printemps",
    ]
    # A minus leaves a word out
    assert await titles(pool, '"vide grenier" -annulé') == ["Vide-grenier de printemps"]
    # "or" finds either
    assert sorted(await titles(pool, "concert or printemps")) == [
        "Concert au parc",
        "Vide-grenier de printemps",
    ]


async def test_pages_follow_one_another_without_gap_or_repeat(
    pool: Pool, keygen: FixedKeys
) -> None:
    camille = await helpers.person(pool, keygen, "camille")
    me = URLS.actor("camille")
    # Given 23 matching events, some ranking the same
    for number in range(23):
        words = "Balade balade à vélo" if number % 3 == 0 else "Balade"
        await helpers.event(pool, f"{words} n°{number}", organizer=me, local=camille)
    # When one reads them ten by ten
    seen: list[int] = []
    after = None
    for _ in range(5):
        async with pool.acquire() as conn:
            page = await service.search(
                conn, "balade", urls=URLS, kinds=["events"], limit=10, after=after
            )
        assert isinstance(page, Results)
        seen.extend(hit.key for hit in page.events.hits)
        after = page.events.next
        if after is None:
            break
    # Then every event came once, best first, in three pages
    assert len(seen) == len(set(seen)) == 23
    best = await run(pool, "balade", ("events",), limit=23)
    assert [hit.key for hit in best.events.hits] == seen
    assert all(hit.title.startswith("Balade balade") for hit in best.events.hits[:8])


async def test_hostile_queries_get_a_clear_refusal_or_an_answer(
    pool: Pool, keygen: FixedKeys
) -> None:
    camille = await helpers.person(pool, keygen, "camille")
    await helpers.event(pool, "Atelier vélo", organizer=URLS.actor("camille"), local=camille)
    # Too long, nothing but punctuation or symbols, a NUL: refused with a reason
    assert await refused(pool, "vélo " * 2048) == "too_long"
    assert await refused(pool, "x" * (MAX_QUERY_CHARS + 1)) == "too_long"
    for typed in ("!!! ??? ...", "\u0000", '"" -- ()', "🚲🚲", "   "):
        assert await refused(pool, typed) == "no_words", typed
    # tsquery operators, backslashes, quotes, a NUL inside words: searched as text, no error
    for typed in (
        "vélo & !atelier | (x",
        "vélo:* <-> atelier",
        "l'atelier \\ vélo",
        '"vélo',
        "vélo\u0000atelier",
        "atelier " + "x" * 400,
        "- - -vélo",
        "自行车",
    ):
        await run(pool, typed)
    assert await titles(pool, "vélo\u0000atelier") == ["Atelier vélo"]
    # Only French stop words: names could still match, nothing else can
    common = await run(pool, "de la du")
    assert common.common_words_only
    assert common.empty
