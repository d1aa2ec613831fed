"""Co-moderation, as Communecter has it: a public object located in a territory that gathers
N open reports from N distinct local accounts (FEDICITY_COMODERATION_REPORTS; remote Flags and
the owner's own report do not count) opens a vote, once per object, among the territory's
residents, or among an organisation's members when it is on its wall.

The vote is a proposal written by the territory's (or the organisation's) actor: "Masquer ce
contenu ?" with the reported text quoted, straight to voting for 48 hours, Pour / Contre /
Abstention, secret ballot, simple majority, its Question carrying fc:moderationOf. The proposal
closes as every proposal does (proposals/phases.py); the worker's step here then settles it in
its own transaction: adopted, the object leaves the territories' pages, every Announce our
territory actors made of it is undone, its open reports are closed as content_hidden (the
reporters are told); rejected, the reports are dismissed. The instance's admins, the moderators
of the territory and the organisation's admins and moderators may veto: before the close the
vote is withdrawn and nothing is hidden; after adoption the object comes back and the territory
actors announce it again (a new Announce: the old one was undone). Each step is in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from html import escape
from typing import Any

from fedicity.accounts.models import Account
from fedicity.activitypub.activities import activity
from fedicity.activitypub.keys import KeyGenerator
from fedicity.activitypub.vocab import PUBLIC
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.audit import queries as audit_queries
from fedicity.audit.models import SYSTEM
from fedicity.audit.models import Actor as AuditActor
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.errors import DomainError
from fedicity.located import queries as located_queries
from fedicity.located.models import LocatedItem, NewItem
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation import reports
from fedicity.notifications.service import notify
from fedicity.organizations import queries as organization_queries
from fedicity.posts import queries as post_queries
from fedicity.proposals import lifecycle
from fedicity.proposals import queries as proposal_queries
from fedicity.proposals import service as proposal_service
from fedicity.proposals.models import ADOPTED, DEFAULT_OPTIONS, Proposal, ProposalData
from fedicity.sanitize import safe_url
from fedicity.stewardship import queries, targets
from fedicity.stewardship.queries import ComoderationVote
from fedicity.territories import queries as territory_queries
from fedicity.territories import service as territory_service
from fedicity.territories.document import announce
from fedicity.territories.models import Territory
from fedicity.urls import Urls, new_token

TITLE = "Masquer ce contenu ?"
# How long a co-moderation vote lasts: two days, so that everyone sees it once or twice.
VOTE_PERIOD = timedelta(hours=48)
SETTLE_BATCH = 20
QUOTED = 1000


class ComoderationError(DomainError):
    """A veto refused: unknown vote, already settled, not this account's to veto."""


@dataclass(frozen=True)
class Env:
    """What co-moderation needs: URLs, time, keys, the served territory and the threshold (0:
    co-moderation is off)."""

    urls: Urls
    clock: Clock
    keygen: KeyGenerator
    root: Territory | None
    threshold: int

    def proposals(self) -> proposal_service.Env:
        """The proposals' environment. Without the served root: the vote's Question is not
        announced by the territories (its author is the territory's actor already)."""
        return proposal_service.Env(urls=self.urls, clock=self.clock, keygen=self.keygen)


@dataclass(frozen=True)
class Candidate:
    """A reported object that may be put to a vote: where it is, whose, what it says."""

    item: LocatedItem
    kind: str
    owner: str
    text: str
    organization_id: int | None


async def _candidate(conn: Connection, uri: str, env: Env) -> Candidate | None:
    """The object when it is public and on a served territory's pages; None otherwise."""
    item = await located_queries.select_item(conn, uri)
    if item is None or not await territory_service.is_served(conn, env.root, item.territory_id):
        return None
    target = await targets.find(conn, env.urls, uri)
    if target is not None and target.removed:
        return None
    if target is not None and target.kind == "post":
        post = await post_queries.select_post(conn, uri)
        if post is None or post.visibility != "public":
            return None
    text = target.text if target is not None else f"{item.title}\n{item.summary}".strip()
    return Candidate(
        item=item,
        kind=target.kind if target is not None else item.kind,
        owner=target.owner if target is not None and target.owner else item.author_uri,
        text=text,
        organization_id=target.organization_id if target is not None else None,
    )


def question_html(text: str, link: str | None, count: int) -> str:
    """The vote's text: why it is asked, the reported text quoted (escaped), a link to it."""
    quoted = "<br>".join(escape(line) for line in text[:QUOTED].splitlines() if line.strip())
    parts = [
        f"<p>{count} signalements de personnes différentes demandent si ce contenu doit être "
        "masqué des pages du territoire. Pour : il est masqué ; Contre : il reste.</p>",
        f"<blockquote><p>{quoted}</p></blockquote>",
    ]
    if link is not None:
        parts.append(f'<p><a href="{escape(link)}" rel="nofollow">{escape(link)}</a></p>')
    return "".join(parts)


async def consider(conn: Connection, uri: str, env: Env) -> ComoderationVote | None:
    """After a report naming `uri`: open its co-moderation vote when it qualifies (see the
    module's docstring); the vote opened, or None."""
    if env.threshold <= 0 or await queries.exists_for(conn, uri):
        return None
    candidate = await _candidate(conn, uri, env)
    if candidate is None:
        return None
    counting = await queries.select_counting_reports(conn, uri, candidate.owner)
    if len(counting) < env.threshold:
        return None
    async with conn.transaction():
        await queries.lock_object(conn, uri)
        if await queries.exists_for(conn, uri):
            return None
        return await _open(conn, candidate, counting, env)


async def _electorate(
    conn: Connection, candidate: Candidate, env: Env
) -> tuple[Actor, str, str | None]:
    """Who writes the vote and who votes: an organisation's members for what is on its wall or
    in its rooms (its posts and proposals), the territory's residents otherwise (an
    organisation's event is on the territory's agenda: its residents decide)."""
    if candidate.organization_id is not None and candidate.kind in ("post", "proposal"):
        organization = await actor_queries.select_actor_by_id(conn, candidate.organization_id)
        if organization is not None and organization.kind == "organization":
            return organization, "members", env.urls.actor(organization.username)
    territory = await territory_queries.select_territory_by_id(conn, candidate.item.territory_id)
    assert territory is not None  # a located item's territory is not deleted under it
    author = await territory_service.territory_actor(conn, territory, keygen=env.keygen)
    return author, "residents", None


async def _open(
    conn: Connection, candidate: Candidate, counting: dict[int, tuple[int, str]], env: Env
) -> ComoderationVote:
    now = env.clock.now()
    item = candidate.item
    author, electorate, organization_uri = await _electorate(conn, candidate, env)
    token = new_token()
    link = safe_url(item.url) or safe_url(item.object_uri)
    draft = await proposal_queries.upsert_proposal(
        conn,
        ProposalData(
            uri=env.urls.proposal(token),
            token=token,
            local_actor_id=author.id,
            author_uri=env.urls.actor(author.username),
            title=TITLE,
            content_html=question_html(candidate.text, link, len(counting)),
            options=DEFAULT_OPTIONS,
            published=now,
            organization_uri=organization_uri,
            territory_id=item.territory_id,
            ballot="secret",
            majority=0.5,
            electorate="members" if electorate == "members" else "residents",
            federated_votes_count=False,
            moderation_of=item.object_uri,
        ),
    )
    proposal = await lifecycle.open_voting(
        conn, actor=author, proposal=draft, ends=now + VOTE_PERIOD, env=env.proposals()
    )
    report_ids = sorted(report_id for report_id, _ in counting.values())
    vote = await queries.insert_vote(
        conn,
        object_uri=item.object_uri,
        object_kind=candidate.kind,
        territory_id=item.territory_id,
        organization_id=author.id if electorate == "members" else None,
        proposal_id=proposal.id,
        report_ids=report_ids,
        now=now,
    )
    assert vote is not None  # the object's lock was held and it had no vote
    if electorate == "residents":
        # Listed with the territory's proposals; members' votes are on their organisation's page.
        await located_queries.upsert_item(conn, _proposal_item(proposal, item, env.urls))
    await audit_queries.record(
        conn,
        SYSTEM,
        "comoderation.open",
        target=item.object_uri,
        details={
            "vote": vote.id,
            "proposal": proposal.uri,
            "electorate": electorate,
            "reports": report_ids,
        },
        now=now,
    )
    for _, reporter in counting.values():
        await notify(
            conn,
            recipient=reporter,
            kind="comoderation_opened",
            actor_uri=proposal.author_uri,
            object_uri=proposal.uri,
            urls=env.urls,
            clock=env.clock,
        )
    return vote


def _proposal_item(proposal: Proposal, item: LocatedItem, urls: Urls) -> NewItem:
    return NewItem(
        object_uri=proposal.uri,
        kind="proposal",
        territory_id=item.territory_id,
        title=proposal.title,
        # Not the reported text: the listing should not spread what is put to the vote.
        summary="Vote des habitants : faut-il masquer ce contenu signalé ?",
        url=proposal.uri,
        author_uri=proposal.author_uri,
        origin_host=urls.base.split("://", 1)[-1].rstrip("/"),
        published=proposal.published,
        latitude=item.latitude,
        longitude=item.longitude,
    )


async def settle_due(conn: Connection, env: Env, *, limit: int = SETTLE_BATCH) -> int:
    """The worker's step after the proposals' phases: settle the votes whose proposal closed,
    each in its own transaction (claimed with SKIP LOCKED; a settled vote is not open any more,
    so running it again does nothing). How many were settled."""
    settled = 0
    while settled < limit:
        async with conn.transaction():
            due = await queries.claim_settled(conn, limit=1)
            if not due:
                break
            await _settle(conn, due[0], env)
        settled += 1
    return settled


async def _settle(conn: Connection, vote: ComoderationVote, env: Env) -> None:
    proposal = await proposal_queries.select_proposal_by_id(conn, vote.proposal_id)
    assert proposal is not None  # the vote row goes with its proposal (ON DELETE CASCADE)
    now = env.clock.now()
    adopted = proposal.result == ADOPTED
    await audit_queries.record(
        conn,
        SYSTEM,
        "comoderation.close",
        target=vote.object_uri,
        details={"vote": vote.id, "proposal": proposal.uri, "result": proposal.result},
        now=now,
    )
    if not adopted:
        await _close_reports(conn, vote, "dismissed", env)
        await queries.set_state(conn, vote.id, "rejected", now=now)
        return
    if await located_queries.mark_deleted(conn, vote.object_uri, now):
        await audit_queries.record(
            conn,
            SYSTEM,
            "content.hide",
            target=vote.object_uri,
            reason="co-moderation vote adopted",
            details={"vote": vote.id, "kind": vote.object_kind},
            now=now,
        )
    undone = await _undo_announces(conn, vote, env)
    await _close_reports(conn, vote, "content_hidden", env)
    await queries.set_state(conn, vote.id, "adopted", now=now, undone=undone)


async def _undo_announces(conn: Connection, vote: ComoderationVote, env: Env) -> list[str]:
    """Each territory actor that announced the object publishes Undo(Announce) to its
    followers; the Announces undone."""
    undone = []
    for shared in await queries.select_territory_announces(conn, vote.object_uri):
        actor = await actor_queries.select_actor_by_id(conn, shared.actor_id)
        if actor is None:
            continue
        inner = {key: value for key, value in shared.raw.items() if key != "@context"}
        await publish(
            conn,
            actor=actor,
            activity=activity(
                "Undo",
                id=env.urls.activity(new_token()),
                actor=env.urls.actor(actor.username),
                object=inner,
                to=[PUBLIC],
                cc=[env.urls.actor_followers(actor.username)],
            ),
            audience=Audience(followers=True),
            urls=env.urls,
            clock=env.clock,
            keygen=env.keygen,
        )
        undone.append(shared.uri)
    if undone:
        await audit_queries.record(
            conn,
            SYSTEM,
            "content.unannounce",
            target=vote.object_uri,
            details={"vote": vote.id, "announces": undone},
            now=env.clock.now(),
        )
    return undone


async def _close_reports(
    conn: Connection, vote: ComoderationVote, resolution: reports.Resolution, env: Env
) -> None:
    """Close the open reports naming the object (their reporters are told)."""
    for report_id in await queries.select_open_report_ids(conn, vote.object_uri):
        report = await moderation_queries.select_report(conn, report_id)
        if report is None:
            continue
        await reports.close(
            conn,
            report,
            by=SYSTEM,
            resolution=resolution,
            reason=f"co-moderation vote {vote.id}",
            urls=env.urls,
            clock=env.clock,
        )


async def may_veto(conn: Connection, account: Account, vote: ComoderationVote, urls: Urls) -> bool:
    """The instance's admins, the moderators of the vote's territory (or one above it), the
    admins and moderators of the vote's organisation."""
    if account.is_admin:
        return True
    if vote.organization_id is not None:
        membership = await organization_queries.select_membership(
            conn, vote.organization_id, urls.actor(account.username)
        )
        if membership is not None and membership.accepted and membership.role != "member":
            return True
    if vote.territory_id is not None and vote.organization_id is None:
        moderated = await moderation_queries.select_moderated_territories(conn, account.id)
        return await moderation_queries.territory_within(conn, vote.territory_id, moderated)
    return False


async def veto(
    conn: Connection,
    vote_id: int,
    *,
    account: Account,
    by: AuditActor,
    reason: str,
    env: Env,
) -> ComoderationVote:
    """Veto a vote: withdrawn while open (nothing hidden), or its decision undone after
    adoption (the object back on the pages, announced again); ComoderationError otherwise."""
    async with conn.transaction():
        vote = await queries.select_vote(conn, vote_id, for_update=True)
        if vote is None:
            raise ComoderationError("comoderation_unknown", "no such co-moderation vote")
        if not await may_veto(conn, account, vote, env.urls):
            raise ComoderationError("not_allowed", "this vote is for other moderators")
        if vote.state not in ("open", "adopted"):
            raise ComoderationError("comoderation_settled", "this vote is settled already")
        now = env.clock.now()
        details: dict[str, Any] = {"vote": vote.id, "before": vote.state}
        if vote.state == "open":
            proposal = await proposal_queries.select_proposal_by_id(conn, vote.proposal_id)
            if proposal is not None and proposal.state == "voting":
                author = await proposal_service.author_of(conn, proposal)
                await lifecycle.withdraw(conn, actor=author, proposal=proposal, env=env.proposals())
                details["withdrawn"] = proposal.uri
        else:
            details["restored"] = await queries.restore_item(conn, vote.object_uri)
            details["announced"] = await _announce_again(conn, vote, env)
        await audit_queries.record(
            conn,
            by,
            "comoderation.veto",
            target=vote.object_uri,
            reason=reason.strip()[:5000],
            details=details,
            now=now,
        )
        await queries.set_state(conn, vote.id, "vetoed", now=now, vetoed_by=by.name)
        vetoed = await queries.select_vote(conn, vote.id)
    assert vetoed is not None
    return vetoed


async def _announce_again(conn: Connection, vote: ComoderationVote, env: Env) -> list[str]:
    """The territory actors whose Announce was undone announce the same activity anew."""
    announced = []
    for shared in await queries.select_announces(conn, vote.undone_announces):
        actor = await actor_queries.select_actor_by_id(conn, shared.actor_id)
        inner = shared.raw.get("object")
        if actor is None or not isinstance(inner, dict):
            continue
        document = announce(actor, inner, env.urls, env.urls.activity(new_token()))
        await publish(
            conn,
            actor=actor,
            activity=document,
            audience=Audience(followers=True),
            urls=env.urls,
            clock=env.clock,
            keygen=env.keygen,
        )
        announced.append(document["id"])
    return announced
