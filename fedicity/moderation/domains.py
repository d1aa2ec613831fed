"""Domain policies as admins change them: set and lift (each with its audit entry, in one
transaction), and Mastodon's domain-block CSV read and written.

Mastodon's export (`#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate`,
severity suspend, silence or noop) holds blocks only: allows (our allowlist) and private comments
are not in it, so an import keeps the private comment a domain already had and never touches an
allow unless a line names that very domain.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime

from fedicity.audit import queries as audit_queries
from fedicity.audit.export import spreadsheet_cell, unquoted_cell
from fedicity.audit.models import Actor
from fedicity.db.pool import Connection
from fedicity.errors import DomainError
from fedicity.moderation import queries
from fedicity.moderation.policy import (
    ACTIONS,
    SEVERITIES,
    domain_digest,
    normalize_domain,
    obfuscated,
)
from fedicity.moderation.queries import DomainPolicy

CSV_HEADER = (
    "#domain",
    "#severity",
    "#reject_media",
    "#reject_reports",
    "#public_comment",
    "#obfuscate",
)
MAX_COMMENT = 1000
MAX_REASON = 5000
# A published list of more lines than this is refused whole rather than half applied.
MAX_CSV_LINES = 20_000


class PolicyError(DomainError):
    """A domain policy that cannot be set as asked."""


@dataclass(frozen=True)
class PolicyEntry:
    """One domain's policy as a form, a CSV line or the command line gives it."""

    domain: str
    action: str
    reject_media: bool = False
    reject_reports: bool = False
    public_comment: str = ""
    obfuscate: bool = False


@dataclass(frozen=True)
class ParsedCsv:
    """The entries of a CSV, and its refused lines (line number, why)."""

    entries: list[PolicyEntry]
    errors: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ImportSummary:
    """What an import did (or, dry, would do)."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def checked_entry(
    domain: str,
    action: str,
    *,
    reject_media: bool = False,
    reject_reports: bool = False,
    public_comment: str = "",
    obfuscate: bool = False,
) -> PolicyEntry:
    """An entry from typed values, or PolicyError naming what is wrong."""
    name = normalize_domain(domain)
    if name is None:
        raise PolicyError("domain_invalid", f"not a domain name: {domain[:100]!r}")
    if action not in ACTIONS:
        raise PolicyError("policy_action_invalid", f"not a policy: {action[:20]!r}")
    if len(public_comment) > MAX_COMMENT:
        raise PolicyError("comment_too_long", f"a public comment holds {MAX_COMMENT} characters")
    if action == "noop" and not (reject_media or reject_reports):
        raise PolicyError(
            "policy_empty", "a policy without suspension or silence rejects something"
        )
    return PolicyEntry(
        domain=name,
        action=action,
        reject_media=reject_media and action != "allow",
        reject_reports=reject_reports and action != "allow",
        public_comment=public_comment.strip(),
        obfuscate=obfuscate,
    )


async def set_policy(
    conn: Connection, actor: Actor, entry: PolicyEntry, *, reason: str, now: datetime
) -> queries.SuspensionEffects:
    """Set a domain's policy (the private comment is `reason`), recorded in the audit log."""
    if len(reason) > MAX_REASON:
        raise PolicyError("reason_too_long", f"a reason holds {MAX_REASON} characters")
    async with conn.transaction():
        effects = await _apply(conn, entry, reason=reason, blocklist_id=None)
        assert effects is not None  # an admin's policy always applies
        await audit_queries.record(
            conn,
            actor,
            f"domain.{entry.action}",
            target=entry.domain,
            reason=reason,
            details={**_options(entry), **_effects(effects)},
            now=now,
        )
    return effects


async def lift_policy(
    conn: Connection, actor: Actor, domain: str, *, reason: str, now: datetime
) -> bool:
    """Lift the policy set on exactly this domain; False when there was none."""
    name = normalize_domain(domain)
    if name is None:
        raise PolicyError("domain_invalid", f"not a domain name: {domain[:100]!r}")
    async with conn.transaction():
        lifted = await queries.delete_domain_policy(conn, name)
        if lifted:
            await audit_queries.record(
                conn, actor, "domain.lift", target=name, reason=reason[:MAX_REASON], now=now
            )
    return lifted


async def _apply(
    conn: Connection, entry: PolicyEntry, *, reason: str, blocklist_id: int | None
) -> queries.SuspensionEffects | None:
    return await queries.upsert_domain_policy(
        conn,
        entry.domain,
        entry.action,
        reason,
        reject_media=entry.reject_media,
        reject_reports=entry.reject_reports,
        public_comment=entry.public_comment,
        obfuscate=entry.obfuscate,
        blocklist_id=blocklist_id,
    )


def _options(entry: PolicyEntry) -> dict[str, object]:
    options = asdict(entry)
    del options["domain"], options["action"]
    return options


def _effects(effects: queries.SuspensionEffects) -> dict[str, int]:
    return {name: count for name, count in asdict(effects).items() if count}


def entry_of(policy: DomainPolicy) -> PolicyEntry:
    """A stored policy as an entry (what the CSV holds of it)."""
    return PolicyEntry(
        domain=policy.domain,
        action=policy.action,
        reject_media=policy.reject_media,
        reject_reports=policy.reject_reports,
        public_comment=policy.public_comment,
        obfuscate=policy.obfuscate,
    )


def _flag(text: str) -> bool | None:
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    return None


def parse_csv(text: str) -> ParsedCsv:
    """Read a Mastodon domain-block CSV (header with or without `#`); a file without a header
    is read as one domain per line, suspended, as Mastodon reads it."""
    text = text.lstrip("\ufeff")
    if "\x00" in text:
        return ParsedCsv([], [(0, "the file holds a NUL character")])
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as error:  # a field past the csv module's size limit, a stray quote
        return ParsedCsv([], [(0, f"not a CSV file: {error}")])
    if len(rows) > MAX_CSV_LINES:
        return ParsedCsv([], [(0, f"more than {MAX_CSV_LINES} lines")])
    columns = [c.strip().lstrip("#").lower() for c in rows[0]] if rows else []
    has_header = "domain" in columns
    if not has_header:
        columns = ["domain"]
    entries: dict[str, PolicyEntry] = {}
    errors: list[tuple[int, str]] = []
    for number, row in enumerate(rows[1:] if has_header else rows, start=2 if has_header else 1):
        if not any(cell.strip() for cell in row):
            continue
        values = dict(zip(columns, row, strict=False))
        found = _entry_from(values)
        if isinstance(found, str):
            errors.append((number, found))
        else:
            entries[found.domain] = found
    return ParsedCsv(list(entries.values()), errors)


def _entry_from(values: dict[str, str]) -> PolicyEntry | str:
    """One CSV line as an entry, or why it is refused."""
    severity = (values.get("severity") or "suspend").strip().lower()
    if severity not in SEVERITIES:
        return f"unknown severity {severity[:20]!r}"
    flags = {}
    for name in ("reject_media", "reject_reports", "obfuscate"):
        flag = _flag(values.get(name, ""))
        if flag is None:
            return f"{name} is neither true nor false"
        flags[name] = flag
    try:
        return checked_entry(
            values.get("domain", ""),
            severity,
            public_comment=unquoted_cell((values.get("public_comment") or "").strip()),
            **flags,
        )
    except PolicyError as error:
        return error.detail


def export_csv(policies: Iterable[DomainPolicy]) -> str:
    """Mastodon's domain-block CSV of the given policies (allows are not blocks: left out)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for policy in policies:
        if policy.action == "allow":
            continue
        writer.writerow(
            (
                policy.domain,
                policy.action,
                _bool(policy.reject_media),
                _bool(policy.reject_reports),
                spreadsheet_cell(policy.public_comment),
                _bool(policy.obfuscate),
            )
        )
    return out.getvalue()


def _bool(value: bool) -> str:
    return "true" if value else "false"


async def import_entries(
    conn: Connection,
    actor: Actor,
    entries: list[PolicyEntry],
    *,
    reason: str,
    now: datetime,
    dry_run: bool = False,
) -> ImportSummary:
    """Apply a CSV's entries as an admin's policies (one audit entry for the import), or say
    what would change (`dry_run`). An entry equal to the policy there changes nothing."""
    summary = ImportSummary()
    async with conn.transaction():
        for entry in entries:
            existing = await queries.select_exact_domain_policy(conn, entry.domain)
            if (
                existing is not None
                and entry_of(existing) == entry
                and existing.blocklist_id is None
            ):
                summary.unchanged.append(entry.domain)
                continue
            (summary.added if existing is None else summary.changed).append(entry.domain)
            if not dry_run:
                await _apply(
                    conn,
                    entry,
                    reason=existing.reason if existing is not None else reason,
                    blocklist_id=None,
                )
        if not dry_run and (summary.added or summary.changed):
            await audit_queries.record(
                conn,
                actor,
                "domain.import",
                target=f"{len(summary.added)} added, {len(summary.changed)} changed",
                reason=reason,
                details={"added": summary.added[:500], "changed": summary.changed[:500]},
                now=now,
            )
    return summary


@dataclass(frozen=True)
class PublishedPolicy:
    """A policy as visitors see it: the name obfuscated when the admin chose so (the digest,
    SHA-256 of the real name, lets another admin check a domain they know)."""

    domain: str
    digest: str
    severity: str
    reject_media: bool
    reject_reports: bool
    comment: str
    obfuscated: bool


def published(policies: Iterable[DomainPolicy]) -> list[PublishedPolicy]:
    """The blocking policies as published (allows are not listed)."""
    return [
        PublishedPolicy(
            domain=obfuscated(p.domain) if p.obfuscate else p.domain,
            digest=domain_digest(p.domain),
            severity=p.action,
            reject_media=p.reject_media,
            reject_reports=p.reject_reports,
            comment=p.public_comment,
            obfuscated=p.obfuscate,
        )
        for p in policies
        if p.action != "allow"
    ]


def mastodon_domain_blocks(policies: Iterable[PublishedPolicy]) -> list[dict[str, str]]:
    """Mastodon's /api/v1/instance/domain_blocks: the silences and suspensions (its clients know
    no other severity), each with domain, digest, severity and comment."""
    return [
        {"domain": p.domain, "digest": p.digest, "severity": p.severity, "comment": p.comment}
        for p in policies
        if p.severity in ("suspend", "silence")
    ]


def nodeinfo_federation(
    policies: Iterable[DomainPolicy], *, allowlist_mode: bool
) -> dict[str, object]:
    """NodeInfo's `metadata.federation` as Pleroma and Akkoma publish their SimplePolicy:
    lists of domains by what is done to them, with the public comments in `mrf_simple_info`.
    Obfuscated policies are left out (`exclusions` says some are), since readers of these
    lists take each entry for a real domain name."""
    simple: dict[str, list[str]] = {
        "reject": [],
        "federated_timeline_removal": [],
        "media_removal": [],
        "report_removal": [],
        "accept": [],
    }
    info: dict[str, dict[str, dict[str, str]]] = {}
    excluded = False
    for policy in policies:
        if policy.obfuscate:
            excluded = True
            continue
        keys = {
            "suspend": ["reject"],
            "silence": ["federated_timeline_removal"],
            "allow": ["accept"],
        }.get(policy.action, [])
        if policy.reject_media:
            keys.append("media_removal")
        if policy.reject_reports:
            keys.append("report_removal")
        for key in keys:
            simple[key].append(policy.domain)
            if policy.public_comment:
                info.setdefault(key, {})[policy.domain] = {"reason": policy.public_comment}
    if not allowlist_mode:
        simple["accept"] = []
        info.pop("accept", None)
    return {
        "enabled": True,
        "mrf_policies": ["SimplePolicy"],
        "mrf_simple": simple,
        "mrf_simple_info": info,
        "exclusions": excluded,
        "allowlist_mode": allowlist_mode,
    }
