"""Organisations from a CSV (an extract of the RNA associations register, a commune's own list):
columns mapped to our fields, each row checked and cleaned, matched to an organisation by its
official identifier, else by its name and commune, and created or updated through the
organisations' service by the instance admin who applies the file (its first admin)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from fedicity.activitypub.keys import KeyGenerator
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.models import ORGANIZATION_KINDS, Actor
from fedicity.actors.service import MAX_DISPLAY_NAME, MAX_SUMMARY, ActorError
from fedicity.audit.models import Actor as AuditActor
from fedicity.db.pool import Connection
from fedicity.errors import DomainError
from fedicity.imports import queries
from fedicity.imports.files import (
    FileJob,
    FilePlan,
    FileRefused,
    Reason,
    RowPlan,
    clean_cell,
    decode,
    fold,
    lazy,
    read_table,
    refused,
    run,
)
from fedicity.imports.models import ImportSource, content_hash
from fedicity.organizations import queries as organization_queries
from fedicity.organizations import service as organization_service
from fedicity.organizations.identifiers import luhn_valid
from fedicity.sanitize import safe_url
from fedicity.territories import queries as territory_queries
from fedicity.territories.models import Territory

MAX_FILE_BYTES: Final = 5 * 1024 * 1024
MAX_ROWS: Final = 2000
MAX_ADDRESS: Final = 300
MAX_EMAIL: Final = 254
FIELDS: Final = (
    "name",
    "kind",
    "official_id",
    "address",
    "postal_code",
    "commune",
    "website",
    "email",
    "description",
    "latitude",
    "longitude",
)
# Header names each field is guessed from, folded (lower case, no accents, `_` for the rest):
# the RNA register's first, then what communes' lists and data.gouv.fr files commonly use.
_GUESSES: Final[dict[str, tuple[str, ...]]] = {
    "name": ("titre", "nom", "name", "raison_sociale", "denomination", "nom_association"),
    "kind": ("kind", "type", "nature", "categorie", "forme_juridique"),
    "official_id": ("id", "rna", "numero_rna", "siren", "siret", "identifiant", "official_id"),
    "address": ("adrs_numvoie+adrs_repetition+adrs_typevoie+adrs_libvoie", "adresse", "address"),
    "postal_code": ("adrs_codepostal", "code_postal", "codepostal", "cp", "postal_code"),
    "commune": (
        "adrs_codeinsee",
        "code_insee",
        "code_commune_insee",
        "insee",
        "codgeo",
        "commune",
        "ville",
        "adrs_libcommune",
        "city",
    ),
    "website": ("siteweb", "site_web", "site_internet", "website", "url", "site"),
    "email": ("email", "courriel", "mail", "e_mail", "adresse_mail"),
    "description": ("objet", "description", "activite", "activites", "summary"),
    "latitude": ("latitude", "lat", "y"),
    "longitude": ("longitude", "lon", "lng", "long", "x"),
}
# What registers call the kinds of organisation we know.
_KINDS: Final[dict[str, str]] = {
    "association": "association",
    "asso": "association",
    "d": "association",  # the RNA's "nature": D(éclarée)
    "s": "association",  # S(imple, Alsace-Moselle)
    "entreprise": "company",
    "company": "company",
    "societe": "company",
    "collectivite": "local_government",
    "local_government": "local_government",
    "mairie": "local_government",
    "collectif": "collective",
    "collective": "collective",
    "groupe_informel": "informal_group",
    "informal_group": "informal_group",
}
_SPREADSHEET_FORMULA = re.compile(r"^[=@]|^[+-][^0-9\s]")


class MappingError(DomainError):
    """A column mapping was refused; `code` says why."""


def guess_mapping(header: list[str]) -> dict[str, str]:
    """field -> column (or `a+b+c`, joined by spaces) guessed from the header's names."""
    folded = {fold(name): name for name in header if name}
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for wanted in FIELDS:
        for guess in _GUESSES[wanted]:
            parts = guess.split("+")
            present = [folded[p] for p in parts if p in folded]
            if present and present[0] == folded.get(parts[0]) and not taken & set(present):
                mapping[wanted] = "+".join(present)
                taken.update(present)
                break
    return mapping


def check_mapping(mapping: Mapping[str, str], header: list[str]) -> dict[str, list[int]]:
    """field -> the column positions it reads; MappingError for an unknown field or column."""
    positions = {name: index for index, name in enumerate(header) if name}
    out: dict[str, list[int]] = {}
    for wanted, columns in mapping.items():
        if not columns:
            continue
        if wanted not in FIELDS:
            raise MappingError("mapping_field_unknown", f"no field named {wanted!r}")
        chosen = []
        for column in columns.split("+"):
            if column not in positions:
                raise MappingError("mapping_column_unknown", f"no column named {column!r}")
            chosen.append(positions[column])
        out[wanted] = chosen
    if "name" not in out:
        raise MappingError("mapping_name_missing", "a column must give the organisations' name")
    return out


@dataclass(frozen=True)
class OrganizationRow:
    """One row's cleaned values: None where the file says nothing (a mapped empty cell clears)."""

    name: str
    kind: str
    official_id: tuple[str, str] | None
    territory: Territory | None
    values: dict[str, Any]


class _Refusal(Exception):
    pass


def _too_long(field: str, most: int) -> Reason:
    return Reason(lazy("the %(field)s is longer than %(max)s characters"), field=field, max=most)


def _out_of_bounds(field: str, value: str, bound: float) -> Reason:
    return Reason(
        lazy("%(field)s %(value)s is not between -%(bound)s and %(bound)s"),
        field=field,
        value=repr(value),
        bound=f"{bound:g}",
    )


def _official_id(raw: str) -> tuple[str, str]:
    value = re.sub(r"[\s.]", "", raw).upper()
    if re.fullmatch(r"W[0-9]{9}", value):
        return "RNA", value
    if re.fullmatch(r"[0-9]{14}", value):
        value = value[:9]  # a SIRET: its establishment's SIREN
    if re.fullmatch(r"[0-9]{9}", value) and luhn_valid(value):
        return "SIREN", value
    raise _Refusal(
        Reason(
            lazy("official_id %(value)s is neither an RNA number (W + 9 digits) nor a SIREN"),
            value=repr(raw),
        )
    )


def _number(raw: str, name: str, bound: float) -> float:
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        raise _Refusal(
            Reason(lazy("%(field)s %(value)s is not a number"), field=name, value=repr(raw[:40]))
        ) from None
    if not -bound <= value <= bound:
        raise _Refusal(_out_of_bounds(name, raw[:40], bound))
    return value


class _Communes:
    """Communes by INSEE code or by name (the postal code choosing among namesakes), cached."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.cache: dict[tuple[str, str], Territory | None] = {}

    async def find(self, text: str, postal_code: str | None) -> Territory | None:
        key = (text, postal_code or "")
        if key not in self.cache:
            self.cache[key] = await self._find(text, postal_code)
        return self.cache[key]

    async def _find(self, text: str, postal_code: str | None) -> Territory | None:
        if re.fullmatch(r"[0-9][0-9AB][0-9]{3}", text.upper()):
            return await territory_queries.select_territory(self.conn, "commune", text.upper())
        wanted = territory_queries.fold(text)
        matches = [
            t
            for t in await territory_queries.search_territories(self.conn, text, limit=50)
            if t.level == "commune" and territory_queries.fold(t.name) == wanted
        ]
        if postal_code:
            matches = [t for t in matches if postal_code in t.postal_codes] or matches
        return matches[0] if len(matches) == 1 or (matches and postal_code) else None


async def _row(
    line: int, cells: list[str], columns: dict[str, list[int]], communes: _Communes
) -> tuple[OrganizationRow, list[str]]:
    notes: list[str] = []
    raw: dict[str, str] = {}
    for wanted, positions in columns.items():
        parts = []
        for position in positions:
            cell, cut = clean_cell(cells[position] if position < len(cells) else "")
            if cut and cell:
                notes.append(Reason(lazy("%(field)s: control characters removed"), field=wanted))
            if _SPREADSHEET_FORMULA.match(cell):
                raise _Refusal(
                    Reason(
                        lazy("%(field)s looks like a spreadsheet formula: %(value)s"),
                        field=wanted,
                        value=repr(cell[:40]),
                    )
                )
            if cell:
                parts.append(cell)
        raw[wanted] = " ".join(parts)
    name = " ".join(raw["name"].split())
    if not name:
        raise _Refusal(Reason(lazy("the name is empty")))
    if len(name) > MAX_DISPLAY_NAME:
        raise _Refusal(_too_long("name", MAX_DISPLAY_NAME))
    kind_text = raw.get("kind", "")
    kind = _KINDS.get(fold(kind_text), "") if kind_text else "association"
    if not kind:
        raise _Refusal(
            Reason(
                lazy("kind %(value)s is none of %(kinds)s"),
                value=repr(kind_text[:40]),
                kinds=", ".join(ORGANIZATION_KINDS),
            )
        )
    official = _official_id(raw["official_id"]) if raw.get("official_id") else None
    postal_code = raw.get("postal_code") or None
    if postal_code is not None and not re.fullmatch(r"[0-9]{5}", postal_code):
        raise _Refusal(
            Reason(lazy("postal_code %(value)s is not 5 digits"), value=repr(postal_code[:20]))
        )
    territory = None
    if raw.get("commune"):
        territory = await communes.find(raw["commune"], postal_code)
        if territory is None:
            raise _Refusal(
                Reason(
                    lazy("commune %(value)s is not one this instance knows"),
                    value=repr(raw["commune"][:60]),
                )
            )
    description = raw.get("description", "")
    if len(description) > MAX_SUMMARY:
        raise _Refusal(_too_long("description", MAX_SUMMARY))
    address = raw.get("address") or None
    if address is not None and len(address) > MAX_ADDRESS:
        raise _Refusal(_too_long("address", MAX_ADDRESS))
    website = raw.get("website") or None
    if website is not None and not re.match(r"(?i)[a-z][a-z0-9+.-]*:", website):
        website = "https://" + website  # registers often write www.example.org
    if website is not None and safe_url(website) is None:
        notes.append(
            Reason(
                lazy("website %(value)s dropped: not an http(s) address"),
                value=repr(website[:60]),
            )
        )
        website = None
    email = raw.get("email") or None
    if email is not None and (
        len(email) > MAX_EMAIL or not re.fullmatch(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+", email)
    ):
        notes.append(
            Reason(lazy("email %(value)s dropped: not an e-mail address"), value=repr(email[:60]))
        )
        email = None
    latitude = _number(raw["latitude"], "latitude", 90) if raw.get("latitude") else None
    longitude = _number(raw["longitude"], "longitude", 180) if raw.get("longitude") else None
    if (latitude is None) != (longitude is None):
        notes.append(Reason(lazy("place dropped: a latitude needs a longitude")))
        latitude = longitude = None
    values: dict[str, Any] = {
        "display_name": name,
        "organization_kind": kind,
        "home_territory_id": territory.id if territory else None,
        "summary": description,
        "address": address,
        "postal_code": postal_code,
        "website": website,
        "email": email,
        "latitude": latitude,
        "longitude": longitude,
        "official_id": list(official) if official else None,
    }
    # Only what the mapping reads is compared and written: an unmapped field is left alone. A
    # blank commune says nothing either: a register's missing cell does not move an organisation.
    read = set(columns) - ({"commune"} if not raw.get("commune") else set())
    for wanted, keys in (
        ("kind", ("organization_kind",)),
        ("commune", ("home_territory_id",)),
        ("description", ("summary",)),
        ("official_id", ("official_id",)),
        ("latitude", ("latitude", "longitude")),
        *((f, (f,)) for f in ("address", "postal_code", "website", "email")),
    ):
        if wanted not in read and not (wanted == "latitude" and "longitude" in read):
            for key in keys:
                values.pop(key, None)
    return OrganizationRow(name, kind, official, territory, values), notes


def _current(org: dict[str, Any]) -> dict[str, Any]:
    official = org["official_id_kind"]
    return {
        **org,
        "official_id": [official, org["official_id_value"]] if official else None,
    }


def _key(row: OrganizationRow) -> str:
    if row.official_id is not None:
        return f"{row.official_id[0]}:{row.official_id[1]}"
    return f"name:{fold(row.name)}|{row.territory.code if row.territory else ''}"


async def plan_rows(
    conn: Connection,
    source: ImportSource | None,
    header: list[str],
    rows: list[tuple[int, list[str]]],
    mapping: Mapping[str, str],
) -> list[RowPlan[OrganizationRow]]:
    """Each row's plan against the organisations the database holds now."""
    columns = check_mapping(mapping, header)
    known = [_current(o) for o in await queries.select_local_organizations(conn)]
    by_id = {o["id"]: o for o in known}
    by_official = {
        f"{o['official_id'][0]}:{o['official_id'][1]}": o for o in known if o["official_id"]
    }
    by_name = {f"name:{fold(o['display_name'])}|{o['home_territory_id'] or ''}": o for o in known}
    namesakes: dict[str, list[dict[str, Any]]] = {}
    for o in known:
        namesakes.setdefault(fold(o["display_name"]), []).append(o)
    earlier = await queries.select_provenance_ids(conn, source.id) if source else {}
    communes = _Communes(conn)
    seen: dict[str, int] = {}
    out: list[RowPlan[OrganizationRow]] = []
    for line, cells in rows:
        try:
            row, notes = await _row(line, cells, columns, communes)
        except _Refusal as refusal:
            out.append(refused(line, "", _title(cells, columns), refusal.args[0]))
            continue
        key = _key(row)
        if key in seen:
            same = Reason(lazy("the same organisation as line %(line)s"), line=seen[key])
            out.append(refused(line, key, row.name, same))
            continue
        seen[key] = line
        territory_key = row.territory.id if row.territory else ""
        match = (
            (by_id.get(earlier[key]) if key in earlier else None)
            or by_official.get(key)
            or by_name.get(f"name:{fold(row.name)}|{territory_key}")
        )
        if match is None and row.territory is None:
            # No commune in the file: the name alone chooses, in any commune, if only one has it.
            found = namesakes.get(fold(row.name), [])
            if len(found) > 1:
                ambiguous = Reason(
                    lazy(
                        "%(count)s organisations are named %(name)s in different communes: "
                        "give the commune to choose"
                    ),
                    count=len(found),
                    name=repr(row.name[:60]),
                )
                out.append(refused(line, key, row.name, ambiguous))
                continue
            match = found[0] if found else None
        digest = content_hash({"key": key, **row.values})
        if match is None:
            plan: RowPlan[OrganizationRow] = RowPlan(
                line,
                key,
                row.name,
                "created",
                tuple(row.values),
                notes=tuple(notes),
                digest=digest,
                payload=row,
            )
        else:
            changed = tuple(k for k, v in row.values.items() if match.get(k) != v)
            plan = RowPlan(
                line,
                key,
                row.name,
                "updated" if changed else "unchanged",
                changed,
                notes=tuple(notes),
                digest=digest,
                payload=row,
                object_id=match["id"],
                current=match,
            )
        out.append(plan)
    return out


def _title(cells: list[str], columns: dict[str, list[int]]) -> str:
    position = columns["name"][0]
    return clean_cell(cells[position])[0][:MAX_DISPLAY_NAME] if position < len(cells) else ""


def _username_base(name: str) -> str:
    return fold(name)[:24].strip("_") or "organisation"


async def _free_username(conn: Connection, name: str) -> str:
    base = _username_base(name)
    for attempt in range(1, 1000):
        candidate = base if attempt == 1 else f"{base[:24]}_{attempt}"
        try:
            actor_service.normalize_username(candidate)
        except ActorError:
            continue
        if await actor_queries.select_actor_by_username(conn, candidate) is None:
            return candidate
    raise DomainError("username_exhausted", f"no free username for {name!r}")


@dataclass(frozen=True)
class Importer:
    """Who applies the file (an instance admin, and the local person made the organisations'
    first admin), with what keys and where."""

    by: AuditActor
    admin: Actor
    keygen: KeyGenerator
    env: organization_service.Env


async def _write(conn: Connection, plan: RowPlan[OrganizationRow], importer: Importer) -> int:
    row = plan.payload
    assert row is not None
    values = row.values
    now = importer.env.clock.now()
    if plan.object_id is None:
        organization = await organization_service.create(
            conn,
            creator=importer.admin,
            username=await _free_username(conn, row.name),
            organization_kind=row.kind,
            keygen=importer.keygen,
            env=importer.env,
            display_name=row.name,
            summary=values.get("summary", ""),
            latitude=values.get("latitude"),
            longitude=values.get("longitude"),
            # ~140 ms of RSA per row would hold a 2,000-row apply for minutes
            keys_on_first_use=True,
        )
        actor_id = organization.id
        current: dict[str, Any] = {}
    else:
        actor_id = plan.object_id
        current = plan.current
        actor = await actor_queries.select_actor_by_id(conn, actor_id)
        assert actor is not None
        if {"display_name", "summary"} & set(plan.fields):
            await actor_service.update_profile(
                conn,
                actor,
                display_name=row.name,
                summary=values.get("summary", actor.summary),
                manually_approves_followers=actor.manually_approves_followers,
                discoverable=actor.discoverable,
            )
        if {"latitude", "longitude"} & set(plan.fields):
            await organization_queries.set_place(
                conn, actor_id, latitude=values.get("latitude"), longitude=values.get("longitude")
            )
    await queries.update_organization_import(
        conn,
        actor_id,
        organization_kind=values.get(
            "organization_kind", current.get("organization_kind", row.kind)
        ),
        home_territory_id=values.get("home_territory_id", current.get("home_territory_id")),
    )
    await queries.set_organization_contacts(
        conn,
        actor_id,
        **{
            k: values.get(k, current.get(k)) for k in ("address", "postal_code", "website", "email")
        },
    )
    if "official_id" in plan.fields:
        kind, value = row.official_id or (None, None)
        await organization_queries.set_identifier(
            conn,
            actor_id,
            kind=kind,
            value=value,
            verified_at=now if kind else None,
            verified_by=importer.by.account_id if kind else None,
        )
    if plan.object_id is not None:
        changed = await actor_queries.select_actor_by_id(conn, actor_id)
        assert changed is not None
        # Without keys no server ever read its document (reading it makes them): none to tell.
        if changed.private_key_pem is not None:
            await organization_service.publish_update(
                conn, changed, env=importer.env, keygen=importer.keygen
            )
    return actor_id


async def import_file(
    conn: Connection,
    data: bytes,
    *,
    label: str,
    mapping: Mapping[str, str] | None,
    importer: Importer,
    dry_run: bool,
) -> tuple[FilePlan[OrganizationRow], dict[str, str]]:
    """Read, plan and (unless a dry run) apply a CSV of organisations; (plan, the mapping
    used: the one given, else guessed from the header). FileRefused or MappingError refuse the
    whole file."""
    header, rows = read_table(decode(data, max_bytes=MAX_FILE_BYTES), max_rows=MAX_ROWS)
    chosen = dict(mapping) if mapping is not None else guess_mapping(header)

    async def plan(conn: Connection, source: ImportSource | None) -> list[RowPlan[OrganizationRow]]:
        return await plan_rows(conn, source, header, rows, chosen)

    async def write(conn: Connection, row: RowPlan[OrganizationRow]) -> int:
        return await _write(conn, row, importer)

    job = FileJob("organizations_csv", "organization", "import.organizations", plan, write)
    try:
        result = await run(
            conn, job, label, dry_run=dry_run, by=importer.by, now=importer.env.clock.now()
        )
    except MappingError:
        raise
    except DomainError as error:
        # A row the plan accepted was refused while written (a name taken meanwhile...): the
        # transaction is undone, the file refused whole.
        raise FileRefused(Reason(lazy("nothing applied: %(error)s"), error=str(error))) from error
    return result, chosen


def header_of(data: bytes) -> list[str]:
    """A file's header (FileRefused when it cannot be read)."""
    return read_table(decode(data, max_bytes=MAX_FILE_BYTES), max_rows=MAX_ROWS)[0]
