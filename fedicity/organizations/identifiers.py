"""Official identifiers of organisations: a SIREN (9 digits with a Luhn checksum) or an RNA
number (W and 9 digits), recorded as verified by an instance admin (web /admin, or the CLI)."""

from __future__ import annotations

import re

from fedicity.actors.models import Actor
from fedicity.audit import queries as audit_queries
from fedicity.audit.models import Actor as AuditActor
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.organizations import queries
from fedicity.organizations.models import IdentifierKind
from fedicity.organizations.service import MembershipError, require_organization


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum (SIREN numbers use it)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def normalize_identifier(kind: str, raw: str) -> tuple[IdentifierKind, str]:
    """A checked (kind, value): SIREN is 9 digits passing Luhn, RNA is W and 9 digits."""
    value = re.sub(r"[\s.]", "", raw).upper()
    if kind.upper() == "SIREN":
        if not re.fullmatch(r"[0-9]{9}", value) or not luhn_valid(value):
            raise MembershipError("siren_invalid", "a SIREN is 9 digits with a valid checksum")
        return "SIREN", value
    if kind.upper() == "RNA":
        if not re.fullmatch(r"W[0-9]{9}", value):
            raise MembershipError("rna_invalid", "an RNA number is W followed by 9 digits")
        return "RNA", value
    raise MembershipError("identifier_kind_invalid", "an identifier is a SIREN or an RNA number")


async def verify_identifier(
    conn: Connection,
    *,
    organization: Actor,
    kind: str,
    value: str,
    by: AuditActor,
    clock: Clock,
) -> tuple[str, str]:
    """Record a verified identifier, in the audit log too; only instance admins (web, or the
    CLI) call this."""
    require_organization(organization)
    checked_kind, checked_value = normalize_identifier(kind, value)
    async with conn.transaction():
        await queries.set_identifier(
            conn,
            organization.id,
            kind=checked_kind,
            value=checked_value,
            verified_at=clock.now(),
            verified_by=by.account_id,
        )
        await audit_queries.record(
            conn,
            by,
            "organization.verify",
            target=organization.username,
            details={"kind": checked_kind, "value": checked_value},
            now=clock.now(),
        )
    return checked_kind, checked_value


async def clear_identifier(
    conn: Connection, *, organization: Actor, by: AuditActor, clock: Clock
) -> None:
    """Remove the verified identifier (instance admins only), in the audit log too."""
    require_organization(organization)
    async with conn.transaction():
        await queries.set_identifier(
            conn, organization.id, kind=None, value=None, verified_at=None, verified_by=None
        )
        await audit_queries.record(
            conn, by, "organization.unverify", target=organization.username, now=clock.now()
        )
