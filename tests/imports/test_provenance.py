"""Import sources and provenance: a file applied again is the same source, and recording a row
tells a new row from a changed one and from the same content again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fedicity.db.pool import Pool
from fedicity.imports import queries
from fedicity.imports.models import content_hash

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


async def test_rows_are_recognised_by_their_source_and_identity(pool: Pool) -> None:
    async with pool.acquire() as conn:
        source = await queries.ensure_source(conn, "organizations_csv", "rna.csv", now=NOW)
        again = await queries.ensure_source(conn, "organizations_csv", "rna.csv", now=NOW)
        other = await queries.ensure_source(conn, "commune_centres", "rna.csv", now=NOW)
        assert again.id == source.id
        assert other.id != source.id
        assert source.url is None
        assert source.next_fetch_at is None

        first = content_hash({"name": "AMAP", "city": "Montreuil"})
        assert first == content_hash({"city": "Montreuil", "name": "AMAP"})
        record = queries.record_provenance
        args: dict[str, Any] = {"external_id": "W931234567", "row_number": 2, "now": NOW}
        assert await record(conn, source, "organization", 7, content_hash=first, **args) == (
            "created"
        )
        later: dict[str, Any] = {**args, "row_number": 5, "now": NOW + timedelta(days=1)}
        assert (
            await record(conn, source, "organization", 7, content_hash=first, **later)
            == "unchanged"
        )
        changed = content_hash({"name": "AMAP des Chavaux", "city": "Montreuil"})
        assert (
            await record(conn, source, "organization", 7, content_hash=changed, **later)
            == "updated"
        )

        found = await queries.select_imported(conn, source.id, "W931234567")
        assert found is not None
        assert (found.object_id, found.row_number, found.content_hash) == (7, 5, changed)
        assert found.first_imported_at == NOW
        assert found.imported_at == NOW + timedelta(days=1)
        assert await queries.select_imported(conn, other.id, "W931234567") is None
        assert [p.source_label for p in await queries.provenance_of(conn, "organization", 7)] == [
            "rna.csv"
        ]
        assert len(await queries.select_source_rows(conn, source.id)) == 1


async def test_a_subscription_is_due_at_once_and_keeps_its_rows_when_removed(pool: Pool) -> None:
    async with pool.acquire() as conn:
        feed = await queries.ensure_source(
            conn,
            "ical",
            "https://asso.example/agenda.ics",
            url="https://asso.example/agenda.ics",
            now=NOW,
        )
        assert feed.next_fetch_at == NOW
        assert feed.active
        await queries.record_provenance(
            conn,
            feed,
            "event",
            3,
            external_id="uid-1@asso.example",
            row_number=1,
            content_hash="x",
            now=NOW,
        )
        await conn.execute("DELETE FROM import_sources WHERE id = $1", feed.id)
        (kept,) = await queries.provenance_of(conn, "event", 3)
        assert kept.source_id is None
        assert kept.source_label == "https://asso.example/agenda.ics"
