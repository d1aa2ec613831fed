"""Each content policy alone, on payloads recorded from real servers (tests/fixtures/inbound,
their sources in its INDEX.md): what it judges, what it lets through, and why it says so."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fedicity.moderation import content
from fedicity.moderation.content import ActorFacts, ContentPolicyError, PolicyConfig
from tests.conftest import FIXTURES

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
KNOWN = ActorFacts("https://mastodon.example/users/a", "Person", NOW - timedelta(days=400))


def payload(name: str) -> dict[str, Any]:
    """A recorded activity, a fresh copy each time."""
    loaded: dict[str, Any] = json.loads((FIXTURES / "inbound" / f"{name}.json").read_text())
    return copy.deepcopy(loaded)


def run(
    policy: str, activity: dict[str, Any], *, actor: ActorFacts = KNOWN, **settings: Any
) -> content.Decision:
    config = PolicyConfig(policy, enabled=True, **settings)
    document = activity.get("object") if isinstance(activity.get("object"), dict) else None
    return content.FUNCTIONS[policy](activity, document, actor, config, NOW)


def test_a_keyword_matches_whole_words_whatever_the_case_and_accents() -> None:
    # The GoToSocial note says "hello world! #welcome ! first post on the instance"
    note = payload("gotosocial_note_hashtag_emoji_attachment_1")
    create = {"type": "Create", "actor": note["attributedTo"], "object": note}
    decision = run("keyword", create, terms=("First Post",))
    assert decision.verdict == "reject"
    assert decision.policy == "keyword"
    assert decision.reason == "contains “First Post”"
    assert "hello world" in decision.excerpt
    # A part of a word is not the word; accents and case are folded both ways
    assert run("keyword", create, terms=("worl",)).accepted
    note["content"] = "<p>Réunion au CAFÉ ce soir</p>"
    assert run("keyword", create, terms=("cafe",)).verdict == "reject"
    assert run("keyword", create, terms=("réunion au café",)).verdict == "reject"
    # And the action may be a flag instead
    assert run("keyword", create, terms=("cafe",), action="flag").verdict == "flag"


def test_a_keyword_is_read_in_the_content_warning_and_the_name() -> None:
    # Mastodon's note carries its content warning "cw" in summary
    create = payload("mastodon_create_note_1")
    assert run("keyword", create, terms=("cw",)).verdict == "reject"
    # Lemmy's Page has its title in name
    page = payload("lemmy_create_page_1")
    assert run("keyword", page, terms=("test post",)).verdict == "reject"
    # And contentMap only (no content) is read too
    mapped = payload("mastodon_create_note_contentmap_1")
    words = content.fold(content.texts(mapped["object"])).split()
    assert run("keyword", mapped, terms=(words[-1],)).verdict == "reject"


def test_a_keyword_leaves_deletes_likes_follows_and_profile_edits_alone() -> None:
    for name in ("mastodon_delete_note_tombstone_1", "mastodon_like_1", "mastodon_follow_1"):
        assert run("keyword", payload(name), terms=("cw", "moo")).accepted
    # Mastodon's Update(Person) says "Some bio": a profile is not a post
    assert run("keyword", payload("mastodon_update_person_1"), terms=("bio",)).accepted


def test_terms_are_literal_and_a_hostile_one_stays_fast() -> None:
    create = payload("mastodon_create_note_1")
    create["object"]["content"] = "a" * 100_000 + "!"
    # Regex syntax means nothing: (a+)+$ is only those characters
    started = time.monotonic()
    assert run("keyword", create, terms=("(a+)+$", "a.*b")).accepted
    assert time.monotonic() - started < 1
    # A text dense with near-matches of a term stays fast too
    create["object"]["content"] = "casino" * 30_000
    started = time.monotonic()
    assert run("keyword", create, terms=("casino",)).accepted
    assert time.monotonic() - started < 1
    create["object"]["content"] = "price: (a+)+$ today"
    assert run("keyword", create, terms=("(a+)+$",)).verdict == "reject"


def test_a_hashtag_matches_the_tag_list_whatever_its_case() -> None:
    # Mastodon's recorded note is tagged #NSFW (its href says nsfw)
    create = payload("mastodon_create_note_nsfw_hashtag_1")
    decision = run("hashtag", create, terms=("nsfw",))
    assert decision.verdict == "reject"
    assert decision.reason == "tagged #nsfw"
    assert run("hashtag", create, terms=("#NsFw",), action="flag").verdict == "flag"
    # The text "#moo" without a tag entry of that name is not the tag
    assert run("hashtag", create, terms=("moo",)).accepted
    assert run("hashtag", payload("mastodon_create_note_hashtag_1"), terms=("moo",)).verdict == (
        "reject"
    )


def test_mentions_above_the_limit_are_refused() -> None:
    create = payload("mastodon_create_note_hashtag_1")  # mentions one account
    assert run("mentions", create, amount=1).accepted
    tags = create["object"]["tag"]
    for number in range(3):
        tags.append({"type": "Mention", "href": f"https://x.example/users/{number}"})
    decision = run("mentions", create, amount=3)
    assert decision.verdict == "reject"
    assert decision.reason == "4 mentions, more than 3"
    # The same mention twice counts once
    tags.append(dict(tags[-1]))
    assert run("mentions", create, amount=4).accepted


def test_an_old_object_is_refused_but_its_edit_and_its_delete_pass() -> None:
    # Mastodon's note was published in 2018
    create = payload("mastodon_create_note_1")
    decision = run("object_age", create, amount=30)
    assert decision.verdict == "reject"
    assert decision.reason.startswith("published ")
    assert decision.reason.endswith("days ago, more than 30")
    # A fresh one passes
    create["object"]["published"] = (NOW - timedelta(days=2)).isoformat()
    assert run("object_age", create, amount=30).accepted
    # An edit of the old post today is dated by its `updated`
    update = payload("mastodon_create_note_1")
    update["type"] = "Update"
    update["object"]["updated"] = NOW.isoformat()
    assert run("object_age", update, amount=30).accepted
    update["object"]["updated"] = "2019-01-01T00:00:00Z"
    assert run("object_age", update, amount=30).verdict == "reject"
    # And a Delete of it is never judged
    assert run("object_age", payload("mastodon_delete_note_tombstone_1"), amount=30).accepted


def test_links_from_a_new_actor_are_held() -> None:
    create = payload("mastodon_create_note_hashtag_1")
    new = ActorFacts(KNOWN.uri, "Person", NOW - timedelta(hours=2))
    # Mentions' and hashtags' own links are not links
    assert run("new_actor_links", create, actor=new, amount=24).accepted
    create["object"]["content"] += '<p><a href="https://spam.example/buy">deal</a></p>'
    decision = run("new_actor_links", create, actor=new, amount=24)
    assert decision.verdict == "hold"
    assert "https://spam.example/buy" in decision.reason
    # A bare URL in the text counts too
    create["object"]["content"] = "<p>see https://spam.example/x now</p>"
    assert run("new_actor_links", create, actor=new, amount=24).verdict == "hold"
    # The same from an actor known for longer passes
    assert run("new_actor_links", create, amount=24).accepted


def test_an_actor_of_an_unknown_type_is_ignored_whatever_it_sends() -> None:
    like = payload("mastodon_like_1")
    odd = ActorFacts(KNOWN.uri, "Mystery", KNOWN.first_seen_at)
    decision = run("actor_type", like, actor=odd)
    assert decision.verdict == "reject"
    assert decision.reason == "the actor is a Mystery"
    for kind in ("Person", "Service", "Application", "Group", "Organization"):
        assert run("actor_type", like, actor=ActorFacts(KNOWN.uri, kind, None)).accepted


def test_the_pipeline_rejects_first_holds_next_and_keeps_every_flag() -> None:
    create = payload("mastodon_create_note_nsfw_hashtag_1")
    create["object"]["content"] += '<a href="https://spam.example/">x</a>'
    new = ActorFacts(KNOWN.uri, "Person", NOW - timedelta(hours=1))
    configs = {
        "keyword": PolicyConfig("keyword", True, "flag", ("cw",)),
        "hashtag": PolicyConfig("hashtag", True, "flag", ("nsfw",)),
        "new_actor_links": PolicyConfig("new_actor_links", True, amount=24),
        "object_age": PolicyConfig("object_age", False, amount=30),
    }
    document = create["object"]
    judged = content.judge(create, document, new, configs, NOW)
    assert judged.rejected is None
    assert judged.held is not None
    assert judged.held.policy == "new_actor_links"
    assert [flag.policy for flag in judged.flags] == ["keyword", "hashtag"]
    # Once released, it is not held again
    assert content.judge(create, document, new, configs, NOW, released=True).held is None
    # A rejection alone is recorded
    configs["object_age"] = PolicyConfig("object_age", True, amount=30)
    judged = content.judge(create, document, new, configs, NOW)
    assert [d.policy for d in judged.recorded] == ["object_age"]


def test_what_admins_type_is_checked() -> None:
    assert content.parse_terms("keyword", "casino, crypto\n  free money \n\n") == (
        "casino",
        "crypto",
        "free money",
    )
    assert content.parse_terms("hashtag", "#Spam, ads") == ("Spam", "ads")
    for name, text, code in [
        ("keyword", "a\x00b", "content_term_invalid"),
        ("keyword", "x" * 101, "content_term_invalid"),
        ("hashtag", "not a tag", "content_hashtag_invalid"),
        ("hashtag", "<script>", "content_hashtag_invalid"),
        ("keyword", ",".join(f"w{n}" for n in range(501)), "content_too_many_terms"),
    ]:
        with pytest.raises(ContentPolicyError) as refused:
            content.parse_terms(name, text)
        assert refused.value.code == code
    assert content.parse_amount("object_age", " 30 ") == 30
    for bad in ("0", "-1", "1e9", "٣", "36501", "99999999999999", ""):
        with pytest.raises(ContentPolicyError):
            content.parse_amount("object_age", bad)
    with pytest.raises(ContentPolicyError):
        content.parse_action("keyword", "delete")
    assert content.parse_action("mentions", "flag") == "reject"
