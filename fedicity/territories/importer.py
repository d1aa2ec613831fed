"""Import the territory tree: from the shipped file, the source package's JSON, a CSV or GeoJSON.

Every row is checked first (tree.py: level, code shape, parents present in the input or the
database); a bad row is skipped with its line and reason, and so are the rows that hang from it.
The rest goes in as one transaction: COPY into temporary tables, one upsert per level that leaves
a row alone unless something in it changed, then the closure table rebuilt for the imported
territories (and the ones below them) by set difference (the SQL is in queries.py). Territories
absent from the input are left alone, never deleted.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import cast

from fedicity.db.pool import Connection
from fedicity.territories import queries
from fedicity.territories.models import (
    LEVELS,
    ImportReport,
    Level,
    LevelCounts,
    RowOrSkip,
    TerritoryRow,
)
from fedicity.territories.sources import Format, read_source
from fedicity.territories.tree import Known, batch_of, check_rows, links, parent_of


async def import_territories(
    conn: Connection,
    rows_source: Path | str | Sequence[RowOrSkip] | None = None,
    *,
    source_format: Format = "auto",
) -> ImportReport:
    """Import territories in one transaction; the shipped file when no source is given.

    rows_source: a CSV (plain or .gz), a GeoJSON FeatureCollection, the package's data folder,
    or rows already read. Raises ImportFormatError, before writing anything, when the input
    cannot be read at all.
    """
    started = time.perf_counter()
    if rows_source is None or isinstance(rows_source, str | Path):
        rows: Sequence[RowOrSkip] = read_source(rows_source, source_format)
    else:
        rows = rows_source
    report = ImportReport()
    async with conn.transaction():
        await queries.lock_import(conn)
        known = Known.from_database(await queries.select_parent_codes(conn))
        valid, report.skipped = check_rows(rows, known)
        await queries.stage_import(conn, (_record(row) for row in valid), _link_records(valid))
        await _upsert(conn, valid, report)
        await _rebuild_ancestry(conn, report)
    report.seconds = time.perf_counter() - started
    return report


async def _upsert(conn: Connection, valid: list[TerritoryRow], report: ImportReport) -> None:
    """Upsert the staged rows batch by batch (parents first), counting per level what changed."""
    for batch in sorted({batch_of(row) for row in valid}):
        inserted, updated = await queries.upsert_import_batch(conn, batch)
        counts = report.counts.setdefault(LEVELS[batch // 2], LevelCounts())
        counts.inserted += inserted
        counts.updated += updated
    for level, total in Counter(cast(Level, row.level) for row in valid).items():
        counts = report.counts[level]
        counts.unchanged = total - counts.inserted - counts.updated


async def _rebuild_ancestry(conn: Connection, report: ImportReport) -> None:
    """Bring the closure table of the imported territories and those below them up to date."""
    await queries.prepare_import_ancestry(conn)
    for level in LEVELS:
        await queries.want_import_ancestry(conn, level)
    report.ancestors_removed = await queries.remove_stale_ancestors(conn)
    report.ancestors_changed = await queries.rerank_ancestors(conn)
    report.ancestors_added = await queries.add_missing_ancestors(conn)
    await queries.drop_import_tables(conn)


def _record(row: TerritoryRow) -> tuple[object, ...]:
    """A valid row as queries.IMPORT_ROW_COLUMNS."""
    parent_level, parent_code = parent_of(row)
    kind = row.kind or ("quartier" if row.level == "quartier" else None)
    return (
        batch_of(row),
        row.level,
        row.code,
        row.name,
        kind,
        parent_level,
        parent_code,
        list(row.postal_codes),
        row.population,
        row.zone,
        row.latitude,
        row.longitude,
        None if row.bbox is None else list(row.bbox),
        None if row.geometry is None else json.dumps(row.geometry, separators=(",", ":")),
    )


def _link_records(rows: Iterable[TerritoryRow]) -> Iterator[tuple[object, ...]]:
    """The valid rows' links as queries.IMPORT_LINK_COLUMNS."""
    for row in rows:
        for level, code, depth, inherit in links(row):
            yield (row.level, row.code, level, code, depth, inherit)
