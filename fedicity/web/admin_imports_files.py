"""/admin/imports/files: an instance admin uploads a file (organisations from a CSV, or commune
centres from a CSV or GeoJSON), maps its columns, sees the dry run and applies it. The upload is
kept under the data folder by its SHA-256 until it is applied, so the mapping can be changed and
the plan shown again without sending the file again."""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path
from typing import Any, Final

from quart import Blueprint, render_template, request

from fedicity.actors import queries as actor_queries
from fedicity.imports import centres, organizations_csv
from fedicity.imports.files import FilePlan, FileRefused, Reason, source_label
from fedicity.media.models import MediaError
from fedicity.organizations.service import Env
from fedicity.web.admin import acting
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.i18n import gettext, lazy
from fedicity.web.limits import accepts_uploads
from fedicity.web.media import read_upload
from fedicity.web.messages import message
from fedicity.web.session import check_csrf, require_admin

blueprint = Blueprint("admin_imports_files", __name__)
blueprint.before_request(check_csrf)

KINDS: Final = ("organizations", "centres")
# The rows a page lists (the counts are of every row): a file of every commune has 35,000.
MAX_SHOWN: Final = 500
KEEP_SECONDS: Final = 24 * 3600
_DIGEST = re.compile(r"[0-9a-f]{64}")
FIELD_LABELS: Final = {
    "name": lazy("Name"),
    "kind": lazy("Kind"),
    "official_id": lazy("Official identifier (RNA or SIREN)"),
    "address": lazy("Address"),
    "postal_code": lazy("Postal code"),
    "commune": lazy("Commune (INSEE code or name)"),
    "website": lazy("Website"),
    "email": lazy("Public e-mail address"),
    "description": lazy("Description"),
    "latitude": lazy("Latitude"),
    "longitude": lazy("Longitude"),
}
OUTCOME_LABELS: Final = {
    "created": lazy("Created"),
    "updated": lazy("Updated"),
    "unchanged": lazy("Unchanged"),
    "refused": lazy("Refused"),
}


def say(reason: str) -> str:
    """A reason in the reader's language (its values as read)."""
    if isinstance(reason, Reason):
        return (
            gettext(reason.template) % reason.params if reason.params else gettext(reason.template)
        )
    return reason


def _folder() -> Path:
    return state().settings.data_dir / "imports"


def _store(data: bytes, now: float) -> str:
    digest = hashlib.sha256(data).hexdigest()
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    # Uploads previewed but never applied go after a day: the folder does not grow forever.
    for old in folder.iterdir():
        if old.stat().st_mtime < now - KEEP_SECONDS:
            old.unlink(missing_ok=True)
    path = folder / digest
    if not path.exists():
        # Written whole then renamed: a reader never sees half a file.
        temporary = folder / f".{digest}.part"
        temporary.write_bytes(data)
        temporary.replace(path)
    return digest


def _load(digest: str) -> bytes:
    if not _DIGEST.fullmatch(digest):
        raise Problem(400, "file: not an uploaded file's identifier")
    try:
        return (_folder() / digest).read_bytes()
    except FileNotFoundError:
        raise Problem(404, "file: this upload was applied or removed; upload it again") from None


def _kind(value: str) -> str:
    if value not in KINDS:
        raise Problem(400, "kind: organizations or centres")
    return value


async def _page(status: int = 200, **context: Any) -> tuple[str, int]:
    plan: FilePlan[Any] | None = context.get("plan")
    shown = [r for r in plan.rows if r.outcome != "unchanged"][:MAX_SHOWN] if plan else []
    html = await render_template(
        "admin_imports_files.html",
        fields=organizations_csv.FIELDS,
        field_labels={k: gettext(v) for k, v in FIELD_LABELS.items()},
        outcome_labels={k: gettext(v) for k, v in OUTCOME_LABELS.items()},
        shown=shown,
        max_shown=MAX_SHOWN,
        say=say,
        **{"error": None, "header": [], "mapping": {}, "plan": None, **context},
    )
    return html, status


async def _run(
    kind: str, data: bytes, label: str, mapping: dict[str, str] | None, dry: bool
) -> Any:
    """(plan, mapping) of a file, dry run or applied, as the logged-in admin."""
    account = require_admin()
    app_state = state()
    async with app_state.db.acquire() as conn:
        if kind == "centres":
            plan = await centres.import_file(
                conn,
                data,
                label=label,
                by=acting(account),
                now=app_state.clock.now(),
                dry_run=dry,
            )
            return plan, {}
        admin = await actor_queries.select_actor_by_id(conn, account.actor_id)
        assert admin is not None
        importer = organizations_csv.Importer(
            by=acting(account),
            admin=admin,
            keygen=app_state.keygen,
            env=Env(app_state.urls, app_state.clock),
        )
        return await organizations_csv.import_file(
            conn, data, label=label, mapping=mapping, importer=importer, dry_run=dry
        )


async def _show(
    kind: str, digest: str, label: str, mapping: dict[str, str] | None, dry: bool
) -> tuple[str, int]:
    data = await asyncio.to_thread(_load, digest)
    context: dict[str, Any] = {"kind": kind, "digest": digest, "label": label}
    try:
        if kind == "organizations":
            context["header"] = [h for h in organizations_csv.header_of(data) if h]
        plan, used = await _run(kind, data, label, mapping, dry)
    except organizations_csv.MappingError as refused:
        error = f"{message(refused.code)} ({refused})"
        return await _page(400, error=error, mapping=mapping or {}, **context)
    except FileRefused as refused:
        return await _page(400, error=say(refused.reason), mapping=mapping or {}, **context)
    if plan.applied:
        await asyncio.to_thread((_folder() / digest).unlink, missing_ok=True)
    return await _page(plan=plan, mapping=used, **context)


@blueprint.route("/admin/imports/files", methods=["GET", "POST"])
@accepts_uploads
async def upload() -> tuple[str, int]:
    """The upload form (GET); keep the uploaded file, guess its mapping and show the dry run."""
    require_admin()
    if request.method == "GET":
        return await _page(kind="organizations")
    form = await request.form
    kind = _kind(form.get("kind", ""))
    files = await request.files
    try:
        data = await read_upload(files, "file", max_bytes=state().settings.max_upload_bytes)
    except MediaError:
        limit = state().settings.max_upload_bytes // (1024 * 1024)
        message = gettext("The file is larger than %(size)s MiB: use the command line.", size=limit)
        return await _page(413, kind=kind, error=message)
    if not data:
        return await _page(400, kind=kind, error=gettext("Choose a file."))
    storage = files.get("file")
    label = source_label(storage.filename or "" if storage is not None else "")
    digest = await asyncio.to_thread(_store, data, state().clock.now().timestamp())
    return await _show(kind, digest, label, None, dry=True)


@blueprint.post("/admin/imports/files/run")
async def run_file() -> tuple[str, int]:
    """The dry run again with the mapping chosen, or the apply."""
    require_admin()
    form = await request.form
    kind = _kind(form.get("kind", ""))
    label = source_label(form.get("label", "")[:1000])
    mapping = {
        field: form.get(f"map_{field}", "")[:1000]
        for field in organizations_csv.FIELDS
        if form.get(f"map_{field}", "")
    }
    dry = form.get("action", "") != "apply"
    return await _show(
        kind, form.get("digest", ""), label, mapping if kind == "organizations" else None, dry
    )
