"""The one machinery of the files an admin applies (organisations, commune centres): read the
bytes whole and bounded, plan every row against what the database holds (the dry run), then
write the plan in one transaction with each row's provenance and an audit entry (the apply)."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from fedicity.audit import queries as audit_queries
from fedicity.audit.models import Actor as AuditActor
from fedicity.db.pool import Connection
from fedicity.imports import queries
from fedicity.imports.models import ImportSource, ObjectKind, SourceKind, content_hash

Outcome = Literal["created", "updated", "unchanged", "refused"]
OUTCOMES: tuple[Outcome, ...] = ("created", "updated", "unchanged", "refused")
MAX_COLUMNS = 200
MAX_LABEL = 200
# C0 controls but tab, and DEL: never meaningful in a register's cell, NUL breaks PostgreSQL.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
T = TypeVar("T")


def lazy(text: str) -> str:
    """Mark an English reason for the catalogue (`make messages` extracts `lazy`): the web
    shows it in the reader's language, the command line as it is."""
    return text


class Reason(str):
    """Why a row or a file was refused or cleaned: the English text, and its template and values
    for the web to say it in the reader's language."""

    template: str
    params: dict[str, object]

    def __new__(cls, template: str, **params: object) -> Reason:
        """The reason `template % params`."""
        made = super().__new__(cls, template % params if params else template)
        made.template = template
        made.params = params
        return made


class FileRefused(ValueError):
    """The whole file is refused (nothing is applied); the message (a Reason) says why, and
    where."""

    @property
    def reason(self) -> str:
        """The Reason given."""
        return str(self.args[0]) if not isinstance(self.args[0], Reason) else self.args[0]


@dataclass(frozen=True)
class RowPlan(Generic[T]):
    """What applying one row does: created, updated (these fields), unchanged, or refused (why)."""

    line: int
    external_id: str
    title: str
    outcome: Outcome
    fields: tuple[str, ...] = ()
    reason: str = ""
    notes: tuple[str, ...] = ()
    digest: str = ""
    # What the writer needs: the cleaned values and the object it changes, if any.
    payload: T | None = None
    object_id: int | None = None
    # The object's values when planned (what an update leaves alone is kept as it was).
    current: dict[str, Any] = field(default_factory=dict)


@dataclass
class FilePlan(Generic[T]):
    """A dry run or an applied file: every row's plan, in the file's order."""

    kind: SourceKind
    label: str
    rows: list[RowPlan[T]] = field(default_factory=list)
    applied: bool = False

    def count(self, outcome: Outcome) -> int:
        """How many rows have this outcome."""
        return sum(1 for row in self.rows if row.outcome == outcome)

    def summary(self) -> str:
        """One line: the counts by outcome."""
        return ", ".join(f"{self.count(o)} {o}" for o in OUTCOMES)


def refused(line: int, external_id: str, title: str, reason: str) -> RowPlan[Any]:
    """A row that will not be applied, with why."""
    return RowPlan(line, external_id, title, "refused", reason=reason)


# --- reading ----------------------------------------------------------------------------------


def decode(data: bytes, *, max_bytes: int) -> str:
    """The text of a file: UTF-8 (a BOM dropped), else Windows-1252, else Latin-1."""
    if len(data) > max_bytes:
        raise FileRefused(
            Reason(lazy("the file is larger than %(size)s MiB"), size=max_bytes // (1024 * 1024))
        )
    if not data.strip():
        raise FileRefused(Reason(lazy("the file is empty")))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        # Latin-1 decodes every byte: the five Windows-1252 leaves undefined included.
        return data.decode("latin-1")


def clean_cell(value: str) -> tuple[str, bool]:
    """A cell without control characters and surrounding blanks; True when something was cut."""
    cleaned = _CONTROLS.sub("", value)
    return cleaned.strip(), cleaned != value


def read_table(text: str, *, max_rows: int) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line, cells)]) of a CSV text whose delimiter (`;`, `,` or tab) is guessed from
    its header; the header is line 1. A quote left open or too many columns refuse the file."""
    first = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    try:
        for cells in reader:
            if len(cells) > MAX_COLUMNS:
                raise FileRefused(
                    Reason(
                        lazy("line %(line)s: more than %(max)s columns"),
                        line=reader.line_num,
                        max=MAX_COLUMNS,
                    )
                )
            if header is None:
                header = [clean_cell(c)[0] for c in cells]
                continue
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= max_rows:
                raise FileRefused(Reason(lazy("the file has more than %(max)s rows"), max=max_rows))
            rows.append((reader.line_num, cells))
    except csv.Error as error:
        raise FileRefused(
            Reason(
                lazy("line %(line)s: unreadable CSV (%(error)s)"),
                line=reader.line_num,
                error=str(error),
            )
        ) from None
    if not header or not any(header):
        raise FileRefused(Reason(lazy("the file has no header row")))
    return header, rows


def source_label(name: str) -> str:
    """The name a file is known by: its base name, cleaned and bounded."""
    base = re.split(r"[\\/]", name)[-1]
    cleaned = clean_cell(base)[0][:MAX_LABEL]
    return cleaned or "upload.csv"


def fold(text: str) -> str:
    """Lower case, no accents, every run of anything else one `_`: how headers and names
    compare."""
    plain = unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", plain).strip("_")


# --- planning and applying -------------------------------------------------------------------

Planner = Callable[[Connection, ImportSource | None], Awaitable[list[RowPlan[T]]]]
Writer = Callable[[Connection, RowPlan[T]], Awaitable[int]]


@dataclass(frozen=True)
class FileJob(Generic[T]):
    """One kind of file: how its rows are planned and how one planned row is written."""

    kind: SourceKind
    object_kind: ObjectKind
    audit_action: str
    plan: Planner[T]
    write: Writer[T]
    # Rows written together, after the per-row writes (commune centres write in bulk).
    write_all: Callable[[Connection, Sequence[RowPlan[T]]], Awaitable[None]] | None = None


async def run(
    conn: Connection,
    job: FileJob[T],
    label: str,
    *,
    dry_run: bool,
    by: AuditActor,
    now: datetime,
) -> FilePlan[T]:
    """Plan every row; unless a dry run, apply the plan in one transaction (all or nothing),
    recording each row's provenance and one audit entry."""
    async with conn.transaction():
        # Two admins applying files of one kind wait for each other: each plans on what the
        # other wrote.
        await queries.lock_file_kind(conn, job.kind)
        existing = await queries.select_file_source(conn, job.kind, label)
        plan = FilePlan(job.kind, label, await job.plan(conn, existing))
        if dry_run:
            return plan
        source = await queries.ensure_source(
            conn, job.kind, label, created_by=by.account_id, now=now
        )
        written: list[RowPlan[T]] = []
        for row in plan.rows:
            if row.outcome == "refused":
                continue
            object_id = row.object_id
            if row.outcome != "unchanged" and job.write_all is None:
                object_id = await job.write(conn, row)
            if object_id is None:
                continue
            written.append(row)
            if job.write_all is None:
                await queries.record_provenance(
                    conn,
                    source,
                    job.object_kind,
                    object_id,
                    external_id=row.external_id,
                    row_number=row.line,
                    content_hash=row.digest or content_hash({"id": row.external_id}),
                    now=now,
                )
        if job.write_all is not None:
            await job.write_all(conn, written)
            await queries.record_provenance_rows(
                conn,
                source,
                job.object_kind,
                [(r.object_id or 0, r.external_id, r.line, r.digest) for r in written],
                now=now,
            )
        await audit_queries.record(
            conn,
            by,
            job.audit_action,
            target=label,
            details={o: plan.count(o) for o in OUTCOMES},
            now=now,
        )
        plan.applied = True
    return plan
