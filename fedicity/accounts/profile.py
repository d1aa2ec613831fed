"""A citizen's profile from the settings page: texts, pictures, territory and language, all
checked before anything is kept, saved in one transaction with the Update(Person) that tells
their followers' servers."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from fedicity.accounts import queries
from fedicity.accounts.models import Account
from fedicity.activitypub.dates import format_datetime
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.document import actor_to_ap, update_actor
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.clock import Clock
from fedicity.db.pool import Connection, Pool
from fedicity.errors import DomainError
from fedicity.follows import service as follow_service
from fedicity.media import pictures
from fedicity.media import service as media
from fedicity.media.models import MediaError
from fedicity.urls import Urls, new_token

LOCALES = ("fr", "en")


class ProfileRefused(Exception):
    """The form had errors: each field's refusal code, by the field's name."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(f"{field}: {code}" for field, code in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class ProfileForm:
    """What the settings page's profile form sent (the territory already resolved by the face;
    `territory_error` when the place typed names none we serve)."""

    display_name: str
    summary: str
    manually_approves_followers: bool
    discoverable: bool
    home_territory_id: int | None
    locale: str | None
    avatar: bytes = b""
    banner: bytes = b""
    remove_avatar: bool = False
    remove_banner: bool = False
    territory_error: str | None = None


@dataclass(frozen=True)
class Uploads:
    """Where pictures go and how much an account may upload."""

    data_dir: Path
    max_bytes: int
    quota_bytes: int | None


def _public_view(actor: Actor) -> tuple[object, ...]:
    """What followers' servers see of a profile: an Update goes out when it changes."""
    return (
        actor.display_name,
        actor.summary,
        actor.manually_approves_followers,
        actor.discoverable,
        actor.avatar_name,
        actor.banner_name,
    )


def check_texts(form: ProfileForm) -> None:
    """ProfileRefused when a text field is wrong."""
    errors = _check_texts(form)
    if errors:
        raise ProfileRefused(errors)


def _check_texts(form: ProfileForm) -> dict[str, str]:
    errors: dict[str, str] = {}
    if len(form.display_name.strip()) > actor_service.MAX_DISPLAY_NAME:
        errors["display_name"] = "display_name_too_long"
    if len(form.summary) > actor_service.MAX_SUMMARY:
        errors["summary"] = "summary_too_long"
    if form.territory_error:
        errors["home_territory"] = form.territory_error
    return errors


async def _reencoded(
    form: ProfileForm, errors: dict[str, str]
) -> dict[str, pictures.Picture | None]:
    """The new pictures (None: remove it), decoded and drawn again; refusals into `errors`."""
    chosen: dict[str, pictures.Picture | None] = {}
    kinds: tuple[tuple[pictures.Kind, bytes, bool], ...] = (
        ("avatar", form.avatar, form.remove_avatar),
        ("banner", form.banner, form.remove_banner),
    )
    for field, data, remove in kinds:
        if data:
            try:
                chosen[field] = await pictures.reencode_async(data, field)
            except MediaError as error:
                errors[field] = error.code
        elif remove:
            chosen[field] = None
    return chosen


async def save_profile(
    db: Pool,
    account: Account,
    form: ProfileForm,
    *,
    uploads: Uploads,
    urls: Urls,
    clock: Clock,
) -> Actor:
    """Check the whole form, then keep it in one transaction; ProfileRefused with every field's
    error when anything is wrong (nothing is kept then)."""
    errors = _check_texts(form)
    # Decoding holds no pool connection: a large photo takes a fraction of a second of CPU.
    chosen = await _reencoded(form, errors)
    if errors:
        raise ProfileRefused(errors)
    now = clock.now()
    async with db.acquire() as conn, conn.transaction():
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
        if actor is None or actor.deleted_at is not None:
            raise ProfileRefused({"display_name": "actor_missing"})
        names = {"avatar": actor.avatar_name, "banner": actor.banner_name}
        for field, picture in chosen.items():
            if picture is None:
                names[field] = None
                continue
            try:
                stored = await media.store_image(
                    conn,
                    picture.data,
                    data_dir=uploads.data_dir,
                    uploaded_by=actor.id,
                    now=now,
                    max_bytes=max(uploads.max_bytes, len(picture.data)),
                    quota_bytes=uploads.quota_bytes,
                )
            except MediaError as error:
                raise ProfileRefused({field: error.code}) from None
            names[field] = stored.name
        try:
            updated = await actor_service.update_profile(
                conn,
                actor,
                display_name=form.display_name,
                summary=form.summary,
                manually_approves_followers=form.manually_approves_followers,
                discoverable=form.discoverable,
            )
        except DomainError as error:
            raise ProfileRefused({"display_name": error.code}) from None
        if names != {"avatar": actor.avatar_name, "banner": actor.banner_name}:
            pictured = await actor_queries.update_pictures(
                conn, actor.id, avatar_name=names["avatar"], banner_name=names["banner"]
            )
            assert pictured is not None
            updated = pictured
        await actor_queries.update_home_territory(conn, actor.id, form.home_territory_id)
        updated = replace(updated, home_territory_id=form.home_territory_id)
        await queries.update_locale(
            conn, account.id, form.locale if form.locale in LOCALES else None
        )
        if _public_view(updated) != _public_view(actor):
            await publish_update(conn, updated, urls=urls, clock=clock)
        if actor.manually_approves_followers and not updated.manually_approves_followers:
            await follow_service.accept_waiting_requests(
                conn, actor=updated, urls=urls, clock=clock
            )
    return updated


async def publish_update(conn: Connection, actor: Actor, *, urls: Urls, clock: Clock) -> None:
    """Send Update(Person) with the actor's new document to its followers' servers (in the
    caller's transaction)."""
    document = update_actor(
        actor_to_ap(actor, urls), urls.activity(new_token()), format_datetime(clock.now())
    )
    await publish(
        conn,
        actor=actor,
        activity=document,
        audience=Audience(followers=True),
        urls=urls,
        clock=clock,
    )
