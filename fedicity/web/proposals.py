"""Proposal pages: write one, move it through its lifecycle, vote, comment; the Question for
servers at the same URL (content negotiation)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from babel.numbers import format_percent
from quart import Blueprint, Response, g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.activitypub.vocab import ACTIVITY_JSON
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.db.pool import Connection
from fedicity.organizations import queries as organization_queries
from fedicity.proposals import amendments as proposal_amendments
from fedicity.proposals import comments as proposal_comments
from fedicity.proposals import drafts, followup_queries, lifecycle, queries, service, votes
from fedicity.proposals.document import comment_to_ap
from fedicity.proposals.models import STATES, Proposal, Room
from fedicity.proposals.service import Env, ProposalError
from fedicity.web import alternates
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.forms import checked
from fedicity.web.labels import label
from fedicity.web.messages import message, query_error
from fedicity.web.moderation import refuse_suspended
from fedicity.web.negotiation import wants_activitypub
from fedicity.web.paging import (
    PAGE_SIZE,
    moment_cursor,
    moment_cursor_arg,
    pair_cursor,
    pair_cursor_arg,
)
from fedicity.web.people import known_actors
from fedicity.web.ratelimits import posting_wait, too_fast
from fedicity.web.session import check_csrf, current_account
from fedicity.web.signed_fetch import serves_activitystreams
from fedicity.web.territories import resolve_place, served_root

blueprint = Blueprint("proposals", __name__)

# A proposal's page shows its debate this many comments at a time.
COMMENTS_PAGE = 100
blueprint.before_request(check_csrf)

MAX_DAYS = 365

# The field of the proposal form a refusal is about, so the form shows it there.
FIELD_OF = {
    "title_invalid": "title",
    "too_long": "text",
    "options_invalid": "options",
    "majority_invalid": "majority",
    "electorate_invalid": "electorate",
    "electorate_unavailable": "electorate",
    "territory_required": "territory",
    "territory_unknown": "territory",
    "room_territory": "territory",
    "organization_invalid": "organization",
    "attachment_invalid": "links",
    "attachments_too_many": "links",
    "room_archived": "room",
    "room_members_only": "room",
    "room_unknown": "room",
    "trusted_domains_invalid": "trusted_vote_domains",
    "ballot_invalid": "ballot",
}
# The new-proposal form's boxes and what they are before anything was typed.
CHECKBOXES = {"multiple": False, "vote_change_allowed": True, "federated_votes_count": True}


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
    await refuse_suspended(proposal.local_actor_id)
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
    code = request.args.get("error", "")
    return await _form_page(
        me,
        {"room": request.args.get("room", ""), "majority": "0.5", "ballot": "secret"},
        code=code or None,
    )


async def _form_page(
    me: Actor, values: Mapping[str, str], *, code: str | None = None, typed: bool = False
) -> str:
    """The proposal form with `values` in its fields and a refusal, if any, by its field;
    `typed`: the values came from a sent form (an unchecked box then stays unchecked)."""
    env = await request_env()
    async with state().db.acquire() as conn:
        organizations = await drafts.admin_organizations(conn, me, env.urls)
    field_name = FIELD_OF.get(code or "")
    return await render_template(
        "proposal_new.html",
        error=message(code) if code and field_name is None else None,
        errors={field_name: message(code or "")} if field_name else {},
        values=values,
        checks={
            name: (values.get(name, "") in ("on", "true", "1") if typed else default)
            for name, default in CHECKBOXES.items()
        },
        organizations=[
            (env.urls.actor(o.username), o.display_name or o.username) for o in organizations
        ],
        rooms=await _writable_rooms(me),
    )


@blueprint.route("/proposals", methods=["GET", "POST"])
async def proposals_index() -> str | Response | WerkzeugResponse | tuple[str, int]:
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
        # Another fedicity's proposals show the resolution it sent, and the actions that follow.
        decided = await followup_queries.select_resolutions_of(
            conn, [p.uri for _, p in page if not p.local]
        )
        follow_ups = {
            r.proposal_uri: (
                r,
                await followup_queries.select_resolution_tasks(conn, r.uri, limit=20),
            )
            for r in decided
        }
    more = len(rows) > PAGE_SIZE
    return await render_template(
        "proposals.html",
        proposals=[p for _, p in page],
        people=people,
        follow_ups=follow_ups,
        states=[s for s in STATES if s != "draft"],
        rooms=rooms,
        chosen_state=chosen_state or "",
        chosen_room=room_token or "",
        next_cursor=pair_cursor(*_rank_id(page[-1])) if more else None,
        alternates=alternates.proposals_list(
            urls,
            state().settings,
            chosen_state,
            label(chosen_state, "proposal_state") if chosen_state else None,
        ),
    )


def _rank_id(row: tuple[int, Proposal]) -> tuple[int, int]:
    return row[0], row[1].id


async def create_proposal() -> Response | WerkzeugResponse | tuple[str, int]:
    """Save a draft proposal; a refusal shows the form again with what was typed and the
    message by its field (422)."""
    me = await signed_in_actor()
    if me is None:
        return redirect(url_for("accounts.login", next=url_for("proposals.new_proposal")), 303)
    form = await request.form
    typed = {name: form.get(name, "") for name in form}
    for name in CHECKBOXES:
        # As create_draft reads them below: a box left out counts as unchecked, except the
        # federated one (its form sends a hidden "off" first).
        typed[name] = "on" if checked(form, name, default=name == "federated_votes_count") else ""

    async def refused(code: str) -> tuple[str, int]:
        return await _form_page(me, typed, code=code, typed=True), 422

    wait = await posting_wait()
    if wait is not None:
        return too_fast(await _form_page(me, typed, code="posting_too_fast", typed=True), wait)
    place = await resolve_place(form.get("territory", ""))
    if form.get("territory") and place is None:
        return await refused("territory_unknown")
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
                return await refused("room_unknown")
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
                ballot=form.get("ballot", "secret"),
                vote_change_allowed=checked(form, "vote_change_allowed"),
                majority=majority,
                electorate=form.get("electorate", "federated"),
                federated_votes_count=checked(form, "federated_votes_count", default=True),
                organization_uri=form.get("organization") or None,
                room=room,
                attachments=parse_links(form.get("links", "")),
                trusted_vote_domains=form.get("trusted_vote_domains", "").split(),
            )
        except ProposalError as error:
            return await refused(error.code)
    return _back(proposal)


# The field of a form of the proposal's page a refusal is about (others are the whole form's).
PAGE_FIELD_OF = {
    "option_invalid": "option",
    "stance_invalid": "stance",
    "comment_invalid": "text",
    "amendment_invalid": "text",
    "too_long": "text",
    "date_invalid": "days",
}


@dataclass(frozen=True)
class Failure:
    """A form of the proposal's page that was refused: which one, why, the field it is about
    (None: the whole form) and what was typed."""

    form: str
    message: str
    about: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)

    def errors(self, form: str) -> dict[str, str]:
        """The message by its field, when this failure is about that form's field."""
        return {self.about: self.message} if self.form == form and self.about else {}

    def general(self, form: str) -> str | None:
        """The message, when this failure is about that form as a whole."""
        return self.message if self.form == form and not self.about else None

    def typed(self, form: str) -> Mapping[str, Any]:
        """What was typed in that form, if it is the one refused."""
        return self.values if self.form == form else {}


def _percent(share: float) -> str:
    """A share (0 to 1) as a percentage in the reader's language: "66,7 %", "66.7%"."""
    # Rounded to a tenth of a percent, in the locale's own pattern (a no-break space in French).
    return format_percent(round(share, 3), locale=g.get("locale", "fr"), decimal_quantization=False)


@blueprint.get("/proposals/<token>")
@serves_activitystreams("negotiated")
async def proposal_page(token: str) -> str | Response:
    """A proposal: its Question for servers, a page for browsers."""
    if wants_activitypub(request):
        proposal = await _proposal(token, None)
        async with state().db.acquire() as conn:
            document = await service.question(conn, proposal, await request_env())
        return Response(json.dumps(document), content_type=f"{ACTIVITY_JSON}; charset=utf-8")
    me = await signed_in_actor()
    return await _page(await _proposal(token, me), me)


async def _page(proposal: Proposal, me: Actor | None, failure: Failure | None = None) -> str:
    """The proposal's page: its text, the result (or the live count), the vote form, the
    management forms, amendments and the debate; a refused form shows its message by it and
    keeps what was typed."""
    env = await request_env()
    me_uri = env.urls.actor(me.username) if me else None
    async with state().db.acquire() as conn:
        tally = await queries.tally(conn, proposal.id)
        servers = await queries.select_voter_servers(conn, proposal.id)
        # A secret ballot shows nobody's choice but one's own.
        ballots = [] if proposal.secret else await queries.select_voters(conn, proposal.id)
        my_vote = await queries.select_vote(conn, proposal.id, me_uri) if me_uri else None
        fetched = await queries.select_comments(
            conn, proposal.id, limit=COMMENTS_PAGE + 1, after=moment_cursor_arg("comments_after")
        )
        comments = fetched[:COMMENTS_PAGE]
        more_comments = (
            moment_cursor(comments[-1].published, comments[-1].id)
            if len(fetched) > COMMENTS_PAGE
            else None
        )
        amendments = await queries.select_amendments(conn, proposal.id)
        room = await queries.select_room(conn, proposal.room_id) if proposal.room_id else None
        trusted = await votes.trusted_domains(conn, proposal)
        resolution = await followup_queries.select_resolution_of(conn, proposal.uri)
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
    where = votes.standing(proposal, tally, servers)
    final = proposal.state in ("closed", "archived")
    result = proposal.result if final else votes.compute_result(proposal, tally)
    return await render_template(
        "proposal.html",
        proposal=proposal,
        people=people,
        tally=tally,
        standing=where,
        outcome=votes.outcome(proposal, result, where),
        final=final,
        percent=_percent,
        ballots=ballots,
        my_vote=my_vote,
        comments=comments,
        more_comments=more_comments,
        amendments=amendments,
        room=room,
        trusted_domains=trusted,
        resolution=resolution,
        amendable=proposal.state == "amendable"
        and (proposal.amendable_until is None or env.clock.now() < proposal.amendable_until),
        me=me,
        manages=me_uri is not None and me_uri in (proposal.author_uri, proposal.organization_uri),
        is_author=me_uri == proposal.author_uri,
        error=query_error(),
        failure=failure or Failure(form="", message=""),
    )


# What a citizen does on a proposal's page, with the form it sent.
Action = Callable[[Connection, Actor, Proposal, MultiDict[str, str], Env], Awaitable[object]]


async def _act(
    token: str,
    action: Action,
    form_name: str | Callable[[MultiDict[str, str]], str],
    *,
    publishes: Callable[[MultiDict[str, str]], bool] | None = None,
) -> Response | WerkzeugResponse | tuple[str, int]:
    """Run a citizen's action on a proposal (login first) and go back to its page; when the
    service refuses, the page again (422) with the message by the form and what was typed.
    When `publishes` says the form publishes a text, the account's publishing limit applies
    (429 with Retry-After, the text kept)."""
    me = await signed_in_actor()
    if me is None:
        return redirect(
            url_for("accounts.login", next=url_for("proposals.proposal_page", token=token)), 303
        )
    proposal = await _proposal(token, me)
    form = await request.form
    env = await request_env()
    wait = await posting_wait() if publishes is not None and publishes(form) else None
    async with state().db.acquire() as conn:
        try:
            if wait is not None:
                raise ProposalError("posting_too_fast")
            await action(conn, me, proposal, form, env)
        except ProposalError as refused:
            code = refused.code
        else:
            return _back(proposal)
    name = form_name if isinstance(form_name, str) else form_name(form)
    kept: dict[str, Any] = {key: form.get(key, "") for key in form if key != "csrf_token"}
    kept["option"] = form.getlist("option")
    # The page as it is now (the refused action may have raced another change).
    current = await _proposal(token, me)
    failure = Failure(form=name, message=message(code), about=PAGE_FIELD_OF.get(code), values=kept)
    if wait is not None:
        return too_fast(await _page(current, me, failure), wait)
    return await _page(current, me, failure), 422


@blueprint.post("/proposals/<token>/vote")
async def vote(token: str) -> Response | WerkzeugResponse | tuple[str, int]:
    """A citizen's ballot."""

    async def cast(
        conn: Connection, me: Actor, proposal: Proposal, form: MultiDict[str, str], env: Env
    ) -> None:
        await votes.vote_locally(
            conn, actor=me, proposal=proposal, options=form.getlist("option"), env=env
        )

    return await _act(token, cast, "vote")


@blueprint.post("/proposals/<token>/state")
async def change_state(token: str) -> Response | WerkzeugResponse | tuple[str, int]:
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

    return await _act(token, move, "state")


@blueprint.post("/proposals/<token>/comments")
async def comment(token: str) -> Response | WerkzeugResponse | tuple[str, int]:
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

    return await _act(token, write, "comment", publishes=lambda _form: True)


def _amendment_id(raw: str | None) -> int:
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise Problem(400, "no such amendment")
    return int(raw)


@blueprint.post("/proposals/<token>/amendments")
async def amendments(token: str) -> Response | WerkzeugResponse | tuple[str, int]:
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

    return await _act(
        token, handle, _amendment_form, publishes=lambda form: form.get("action") == "propose"
    )


def _amendment_form(form: MultiDict[str, str]) -> str:
    """Which form of the amendments section was sent: a new amendment, or one amendment's."""
    if form.get("action") == "propose":
        return "amend"
    return f"amendment-{form.get('amendment', '')}"


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
