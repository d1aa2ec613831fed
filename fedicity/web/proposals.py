"""Proposal pages: write one, move it through its lifecycle, vote, comment; the Question for
servers at the same URL (content negotiation)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta

from quart import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.activitypub.vocab import ACTIVITY_JSON
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.db.pool import Connection
from fedicity.organizations import queries as organization_queries
from fedicity.proposals import amendments as proposal_amendments
from fedicity.proposals import comments as proposal_comments
from fedicity.proposals import drafts, lifecycle, queries, service, votes
from fedicity.proposals.document import comment_to_ap
from fedicity.proposals.models import STATES, Proposal, Room
from fedicity.proposals.service import Env, ProposalError
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.forms import checked
from fedicity.web.messages import query_error
from fedicity.web.negotiation import wants_activitypub
from fedicity.web.paging import PAGE_SIZE, pair_cursor, pair_cursor_arg
from fedicity.web.people import known_actors
from fedicity.web.session import check_csrf, current_account
from fedicity.web.signed_fetch import serves_activitystreams
from fedicity.web.territories import resolve_place, served_root

blueprint = Blueprint("proposals", __name__)
blueprint.before_request(check_csrf)

MAX_DAYS = 365


async def request_env() -> Env:
    """What the proposals' and rooms' operations need, for this request."""
    app_state = state()
    return Env(
        urls=app_state.urls,
        clock=app_state.clock,
        keygen=app_state.keygen,
        root=await served_root(),
    )


async def signed_in_actor() -> Actor | None:
    """The actor of the signed-in citizen, None for a visitor."""
    account = current_account()
    if account is None:
        return None
    async with state().db.acquire() as conn:
        return await actor_queries.select_actor_by_id(conn, account.actor_id)


async def _proposal(token: str, me: Actor | None) -> Proposal:
    async with state().db.acquire() as conn:
        proposal = await queries.select_proposal_by_token(conn, token)
    if proposal is None or (
        proposal.state == "draft" and (me is None or me.id != proposal.local_actor_id)
    ):
        raise Problem(404, "no such proposal")
    return proposal


def _days(raw: str | None, default: int) -> timedelta:
    try:
        days = int(raw or default)
    except ValueError:
        days = default
    return timedelta(days=min(max(days, 1), MAX_DAYS))


def _back(proposal: Proposal, error: str | None = None) -> WerkzeugResponse:
    return redirect(url_for("proposals.proposal_page", token=proposal.token, error=error), 303)


def parse_links(text: str) -> list[tuple[str, str]]:
    """One link a line: the address, then its name ("https://... Le plan du quartier")."""
    links = []
    for line in text.splitlines():
        href, _, name = line.strip().partition(" ")
        if href:
            links.append((href, name.strip()))
    return links


async def _writable_rooms(me: Actor) -> list[Room]:
    """Open rooms the citizen may write in (members-only rooms: their members)."""
    env = await request_env()
    me_uri = env.urls.actor(me.username)
    async with state().db.acquire() as conn:
        found = []
        for room in await queries.select_open_rooms(conn):
            if room.members_only:
                assert room.organization_id is not None
                membership = await organization_queries.select_membership(
                    conn, room.organization_id, me_uri
                )
                if membership is None or not membership.accepted:
                    continue
            found.append(room)
    return found


@blueprint.get("/proposals/new")
async def new_proposal() -> str | WerkzeugResponse:
    """The form to write a proposal."""
    me = await signed_in_actor()
    if me is None:
        return redirect(url_for("accounts.login", next=url_for("proposals.new_proposal")), 303)
    env = await request_env()
    async with state().db.acquire() as conn:
        organizations = await drafts.admin_organizations(conn, me, env.urls)
    return await render_template(
        "proposal_new.html",
        error=query_error(),
        organizations=[
            (env.urls.actor(o.username), o.display_name or o.username) for o in organizations
        ],
        rooms=await _writable_rooms(me),
        chosen_room=request.args.get("room", ""),
    )


@blueprint.route("/proposals", methods=["GET", "POST"])
async def proposals_index() -> str | WerkzeugResponse:
    """The proposals published here, what is open to a vote first; by state and by room (GET); or
    save a draft (POST, the form of /proposals/new)."""
    if request.method == "POST":
        return await create_proposal()
    chosen_state = request.args.get("state") or None
    if chosen_state is not None and (chosen_state not in STATES or chosen_state == "draft"):
        raise Problem(400, "state: not a proposal state", extra={"reason": "bad_state"})
    room_token = request.args.get("room") or None
    after = pair_cursor_arg()
    urls = state().urls
    async with state().db.acquire() as conn:
        room = await queries.select_room_by_token(conn, room_token) if room_token else None
        if room_token and room is None:
            raise Problem(404, "no such room")
        rows = await queries.select_proposals_index(
            conn,
            limit=PAGE_SIZE + 1,
            state=chosen_state,
            room_id=room.id if room else None,
            after=after,
        )
        page = rows[:PAGE_SIZE]
        rooms = await queries.select_open_rooms(conn)
        people = await known_actors(conn, urls, (p.author_uri for _, p in page))
    more = len(rows) > PAGE_SIZE
    return await render_template(
        "proposals.html",
        proposals=[p for _, p in page],
        people=people,
        states=[s for s in STATES if s != "draft"],
        rooms=rooms,
        chosen_state=chosen_state or "",
        chosen_room=room_token or "",
        next_cursor=pair_cursor(*_rank_id(page[-1])) if more else None,
    )


def _rank_id(row: tuple[int, Proposal]) -> tuple[int, int]:
    return row[0], row[1].id


async def create_proposal() -> WerkzeugResponse:
    """Save a draft proposal."""
    me = await signed_in_actor()
    if me is None:
        return redirect(url_for("accounts.login", next=url_for("proposals.new_proposal")), 303)
    form = await request.form
    place = await resolve_place(form.get("territory", ""))
    if form.get("territory") and place is None:
        return redirect(url_for("proposals.new_proposal", error="territory_unknown"), 303)
    options = [line for line in form.get("options", "").splitlines() if line.strip()]
    try:
        majority = float(form.get("majority", "0.5") or 0.5)
    except ValueError:
        majority = -1.0
    async with state().db.acquire() as conn:
        room = None
        if form.get("room"):
            room = await queries.select_room_by_token(conn, form.get("room", ""))
            if room is None:
                return redirect(url_for("proposals.new_proposal", error="room_unknown"), 303)
        try:
            proposal = await drafts.create_draft(
                conn,
                actor=me,
                title=form.get("title", ""),
                text=form.get("text", ""),
                env=await request_env(),
                options=options or None,
                multiple=checked(form, "multiple"),
                tags=form.get("tags", "").replace(",", " ").split(),
                territory=place,
                anonymous_votes=checked(form, "anonymous_votes"),
                vote_change_allowed=checked(form, "vote_change_allowed"),
                majority=majority,
                electorate=form.get("electorate", "federated"),
                federated_votes_count=checked(form, "federated_votes_count", default=True),
                organization_uri=form.get("organization") or None,
                room=room,
                attachments=parse_links(form.get("links", "")),
                trusted_vote_domains=form.get("trusted_vote_domains", "").split(),
            )
        except ProposalError as refused:
            return redirect(url_for("proposals.new_proposal", error=refused.code), 303)
    return _back(proposal)


@blueprint.get("/proposals/<token>")
@serves_activitystreams("negotiated")
async def proposal_page(token: str) -> str | Response:
    """A proposal: its Question for servers, a page for browsers."""
    me = await signed_in_actor() if not wants_activitypub(request) else None
    proposal = await _proposal(token, me)
    env = await request_env()
    async with state().db.acquire() as conn:
        document = await service.question(conn, proposal, env)
        if wants_activitypub(request):
            return Response(json.dumps(document), content_type=f"{ACTIVITY_JSON}; charset=utf-8")
        tally = await queries.tally(conn, proposal.id)
        ballots = [] if proposal.anonymous_votes else await queries.select_voters(conn, proposal.id)
        my_vote = (
            await queries.select_vote(conn, proposal.id, env.urls.actor(me.username))
            if me
            else None
        )
        comments = await queries.select_comments(conn, proposal.id, limit=200)
        amendments = await queries.select_amendments(conn, proposal.id)
        room = await queries.select_room(conn, proposal.room_id) if proposal.room_id else None
        trusted = await votes.trusted_domains(conn, proposal)
        people = await known_actors(
            conn,
            env.urls,
            [
                proposal.author_uri,
                *(ballot.voter_uri for ballot in ballots),
                *(comment.author_uri for comment in comments),
                *(amendment.author_uri for amendment in amendments),
            ],
        )
    me_uri = env.urls.actor(me.username) if me else None
    return await render_template(
        "proposal.html",
        proposal=proposal,
        people=people,
        tally=tally,
        ballots=ballots,
        my_vote=my_vote,
        comments=comments,
        amendments=amendments,
        room=room,
        trusted_domains=trusted,
        amendable=proposal.state == "amendable"
        and (proposal.amendable_until is None or env.clock.now() < proposal.amendable_until),
        me=me,
        manages=me_uri is not None and me_uri in (proposal.author_uri, proposal.organization_uri),
        error=query_error(),
    )


# What a citizen does on a proposal's page, with the form it sent.
Action = Callable[[Connection, Actor, Proposal, MultiDict[str, str], Env], Awaitable[object]]


async def _act(token: str, action: Action) -> WerkzeugResponse:
    """Run a citizen's action on a proposal (login first) and go back to its page, with the
    refusal's code when the service refused."""
    me = await signed_in_actor()
    if me is None:
        return redirect(
            url_for("accounts.login", next=url_for("proposals.proposal_page", token=token)), 303
        )
    proposal = await _proposal(token, me)
    form = await request.form
    env = await request_env()
    async with state().db.acquire() as conn:
        try:
            await action(conn, me, proposal, form, env)
        except ProposalError as refused:
            return _back(proposal, refused.code)
    return _back(proposal)


@blueprint.post("/proposals/<token>/vote")
async def vote(token: str) -> WerkzeugResponse:
    """A citizen's ballot."""

    async def cast(
        conn: Connection, me: Actor, proposal: Proposal, form: MultiDict[str, str], env: Env
    ) -> None:
        await votes.vote_locally(
            conn, actor=me, proposal=proposal, options=form.getlist("option"), env=env
        )

    return await _act(token, cast)


@blueprint.post("/proposals/<token>/state")
async def change_state(token: str) -> WerkzeugResponse:
    """Open for amendments or voting, close, withdraw, archive."""

    async def move(
        conn: Connection, me: Actor, proposal: Proposal, form: MultiDict[str, str], env: Env
    ) -> None:
        action = form.get("action", "")
        if action == "amendable":
            auto = form.get("auto_voting_days", "").strip()
            await lifecycle.open_amendments(
                conn,
                actor=me,
                proposal=proposal,
                until=env.clock.now() + _days(form.get("days"), 14),
                env=env,
                auto_voting_days=_days(auto, 7).days if auto else None,
            )
        elif action == "voting":
            await lifecycle.open_voting(
                conn,
                actor=me,
                proposal=proposal,
                ends=env.clock.now() + _days(form.get("days"), 7),
                env=env,
            )
        elif action == "close":
            await lifecycle.close(conn, actor=me, proposal=proposal, env=env)
        elif action == "withdraw":
            await lifecycle.withdraw(conn, actor=me, proposal=proposal, env=env)
        elif action == "archive":
            await lifecycle.archive(conn, actor=me, proposal=proposal, env=env)
        else:
            raise Problem(400, "unknown action")

    return await _act(token, move)


@blueprint.post("/proposals/<token>/comments")
async def comment(token: str) -> WerkzeugResponse:
    """A comment with a stance."""

    async def write(
        conn: Connection, me: Actor, proposal: Proposal, form: MultiDict[str, str], env: Env
    ) -> None:
        await proposal_comments.comment(
            conn,
            actor=me,
            proposal=proposal,
            stance=form.get("stance", ""),
            text=form.get("text", ""),
            env=env,
        )

    return await _act(token, write)


def _amendment_id(raw: str | None) -> int:
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise Problem(400, "no such amendment")
    return int(raw)


@blueprint.post("/proposals/<token>/amendments")
async def amendments(token: str) -> WerkzeugResponse:
    """Propose an amendment, vote on one (up/down), or accept/reject one (author/organisation)."""

    async def handle(
        conn: Connection, me: Actor, proposal: Proposal, form: MultiDict[str, str], env: Env
    ) -> None:
        action = form.get("action", "")
        if action == "propose":
            await proposal_amendments.amend(
                conn, actor=me, proposal=proposal, text=form.get("text", ""), env=env
            )
        elif action in ("up", "down", "accept", "reject"):
            amendment_id = _amendment_id(form.get("amendment"))
            found = await queries.select_amendment(conn, amendment_id)
            if found is None or found.proposal_id != proposal.id:
                raise Problem(404, "no such amendment")
            if action in ("up", "down"):
                await proposal_amendments.vote_amendment(
                    conn, actor=me, amendment_id=amendment_id, up=action == "up", env=env
                )
            else:
                await proposal_amendments.decide_amendment(
                    conn,
                    actor=me,
                    amendment_id=amendment_id,
                    accept=action == "accept",
                    env=env,
                )
        else:
            raise Problem(400, "unknown action")

    return await _act(token, handle)


@blueprint.get("/proposals/<token>/replies")
@serves_activitystreams("always")
async def replies(token: str) -> Response:
    """The proposal's comments as a collection (the Question's `replies`)."""
    proposal = await _proposal(token, None)
    async with state().db.acquire() as conn:
        document = await service.question(conn, proposal, await request_env())
    collection = {"@context": document["@context"], **document["replies"]}
    return Response(json.dumps(collection), content_type=f"{ACTIVITY_JSON}; charset=utf-8")


@blueprint.get("/proposals/<token>/comments/<comment_token>")
@serves_activitystreams("negotiated")
async def comment_document(token: str, comment_token: str) -> Response:
    """A local comment as its Note (it has no page of its own)."""
    proposal = await _proposal(token, None)
    async with state().db.acquire() as conn:
        found = await queries.select_comment(
            conn, state().urls.comment(proposal.uri, comment_token)
        )
    if found is None or not found.local:
        raise Problem(404, "no such comment")
    if not wants_activitypub(request):
        return Response(
            "", status=303, headers={"Location": url_for("proposals.proposal_page", token=token)}
        )
    return Response(
        json.dumps(comment_to_ap(found, proposal)),
        content_type=f"{ACTIVITY_JSON}; charset=utf-8",
    )
