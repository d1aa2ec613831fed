"""SQL for the territory tree; connection first, one statement each (insert_quartier: two; the
import's scripts that create its temporary tables: several)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from fedicity.db.pool import Connection, record_dict
from fedicity.territories.models import Level, Territory, slugify

_COLUMNS = """t.id, t.level, t.code, t.name, t.kind, t.parent_id, t.postal_codes, t.population,
              t.zone, t.latitude, t.longitude, t.bbox, t.updated_at"""

# A name folded for search: no case, no accents, hyphens and apostrophes as spaces. Written with
# translate() because the unaccent extension may not be installed; upper-case letters are mapped
# too, since lower() leaves them alone under the C locale.
_ACCENTED = "àâäáãåçéèêëíìîïñóòôöõúùûüýÿÀÂÄÁÃÅÇÉÈÊËÍÌÎÏÑÓÒÔÖÕÚÙÛÜÝŸ-'\u2019"
_PLAIN = "aaaaaaceeeeiiiinooooouuuuyyaaaaaaceeeeiiiinooooouuuuyy   "


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_FOLDED_NAME = f"translate(t.name, {_sql_literal(_ACCENTED)}, {_sql_literal(_PLAIN)})"
for _ligature, _spelled in (("œ", "oe"), ("Œ", "oe"), ("æ", "ae"), ("Æ", "ae")):
    _FOLDED_NAME = f"replace({_FOLDED_NAME}, '{_ligature}', '{_spelled}')"
_FOLDED_NAME = f"lower({_FOLDED_NAME})"
_LEVEL_RANK = """array_position(ARRAY['country', 'region', 'departement', 'epci', 'commune',
                                     'quartier'], t.level)"""


def fold(text: str) -> str:
    """The search form of a text, as _FOLDED_NAME computes it for names."""
    spelled = text.lower().replace("œ", "oe").replace("æ", "ae")
    plain = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode()
    return re.sub("[-'\u2019\\s]+", " ", plain).strip()


async def select_territory(conn: Connection, level: str, code: str) -> Territory | None:
    """The territory of this level with this code (None for an unknown level too)."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM territories t WHERE t.level = $1 AND t.code = $2", level, code
    )
    return None if row is None else Territory(**record_dict(row))


async def select_territory_by_id(conn: Connection, territory_id: int) -> Territory | None:
    """The territory with this id."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM territories t WHERE t.id = $1", territory_id)
    return None if row is None else Territory(**record_dict(row))


async def select_ancestors(
    conn: Connection, territory_id: int, *, include_self: bool = False
) -> list[Territory]:
    """The territory's ancestors from the country down (a breadcrumb), itself last if asked."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM territory_ancestors a
              JOIN territories t ON t.id = a.ancestor_id
             WHERE a.descendant_id = $1 AND (a.depth > 0 OR $2)
             ORDER BY a.depth DESC, {_LEVEL_RANK}, t.code""",
        territory_id,
        include_self,
    )
    return [Territory(**record_dict(row)) for row in rows]


async def is_descendant(conn: Connection, ancestor_id: int, territory_id: int) -> bool:
    """Whether a territory is this ancestor or lies under it."""
    found: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM territory_ancestors
                           WHERE ancestor_id = $1 AND descendant_id = $2)""",
        ancestor_id,
        territory_id,
    )
    return found


async def select_subtree(conn: Connection, root_id: int) -> list[Territory]:
    """The territory and everything under it, from the top down."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM territory_ancestors a
              JOIN territories t ON t.id = a.descendant_id
             WHERE a.ancestor_id = $1
             ORDER BY a.depth, {_LEVEL_RANK}, t.code""",
        root_id,
    )
    return [Territory(**record_dict(row)) for row in rows]


async def select_served_ancestors(
    conn: Connection, root_id: int, territory_id: int
) -> list[Territory]:
    """The territory and those of its ancestors that are the root or under it, from the
    territory up to the root; empty when the territory is outside the root."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM territory_ancestors a
              JOIN territories t ON t.id = a.ancestor_id
             WHERE a.descendant_id = $2
               AND EXISTS (SELECT 1 FROM territory_ancestors r
                            WHERE r.ancestor_id = $1 AND r.descendant_id = a.ancestor_id)
             ORDER BY a.depth, {_LEVEL_RANK}, t.code""",
        root_id,
        territory_id,
    )
    return [Territory(**record_dict(row)) for row in rows]


async def select_served_by_code(conn: Connection, root_id: int, code: str) -> Territory | None:
    """The territory with this code at or under the root, the highest one when several levels
    share it (a collectivité d'outre-mer is a région and a département of one code)."""
    row = await conn.fetchrow(
        f"""SELECT {_COLUMNS} FROM territory_ancestors a
              JOIN territories t ON t.id = a.descendant_id
             WHERE a.ancestor_id = $1 AND t.code = $2
             ORDER BY a.depth, {_LEVEL_RANK}
             LIMIT 1""",
        root_id,
        code,
    )
    return None if row is None else Territory(**record_dict(row))


async def select_scope_ids(conn: Connection, territory_id: int) -> list[int]:
    """The territory and all its ancestors: what located_items.scope_ids holds."""
    rows = await conn.fetch(
        "SELECT ancestor_id FROM territory_ancestors WHERE descendant_id = $1 ORDER BY depth",
        territory_id,
    )
    return [row["ancestor_id"] for row in rows]


async def select_children(
    conn: Connection,
    territory_id: int,
    *,
    limit: int,
    after: tuple[str, int] | None = None,
    level: Level | None = None,
) -> list[Territory]:
    """The territories one step below, by name; page on with after=(last.name, last.id).

    One step below a département are its EPCIs and the communes in no EPCI; below an EPCI, its
    communes (or, for a métropole holding EPTs, those EPTs and the communes in none of them).
    """
    name_after, id_after = after or (None, None)
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM territory_ancestors a
              JOIN territories t ON t.id = a.descendant_id
             WHERE a.ancestor_id = $1 AND a.depth = 1
               AND ($2::text IS NULL OR t.level = $2)
               AND ($3::text IS NULL OR (t.name, t.id) > ($3, $4))
             ORDER BY t.name, t.id
             LIMIT $5""",
        territory_id,
        level,
        name_after,
        id_after,
        limit,
    )
    return [Territory(**record_dict(row)) for row in rows]


async def select_descendant_ids(
    conn: Connection, territory_id: int, level: Level | None = None
) -> list[int]:
    """Ids of every territory below this one (not itself), of one level if given."""
    rows = await conn.fetch(
        """SELECT a.descendant_id FROM territory_ancestors a
             JOIN territories t ON t.id = a.descendant_id
            WHERE a.ancestor_id = $1 AND a.depth > 0 AND ($2::text IS NULL OR t.level = $2)
            ORDER BY a.descendant_id""",
        territory_id,
        level,
    )
    return [row["descendant_id"] for row in rows]


async def count_descendants(conn: Connection, territory_id: int, level: Level | None = None) -> int:
    """How many territories are below this one (not itself), of one level if given."""
    count: int = await conn.fetchval(
        """SELECT count(*) FROM territory_ancestors a
             JOIN territories t ON t.id = a.descendant_id
            WHERE a.ancestor_id = $1 AND a.depth > 0 AND ($2::text IS NULL OR t.level = $2)""",
        territory_id,
        level,
    )
    return count


async def count_descendants_by_level(conn: Connection, territory_id: int) -> dict[Level, int]:
    """How many territories of each level are below this one."""
    rows = await conn.fetch(
        """SELECT t.level, count(*) AS n FROM territory_ancestors a
             JOIN territories t ON t.id = a.descendant_id
            WHERE a.ancestor_id = $1 AND a.depth > 0
            GROUP BY t.level""",
        territory_id,
    )
    return {row["level"]: row["n"] for row in rows}


async def search_territories(conn: Connection, text: str, *, limit: int) -> list[Territory]:
    """Territories whose name starts with the text (ignoring case, accents, hyphens and
    apostrophes), or whose code or one of whose postal codes is the text; exact matches first,
    then the most populous."""
    folded = fold(text)
    raw = text.strip()
    if not folded and not raw:
        return []
    pattern = re.sub(r"([\\%_])", r"\\\1", folded) + "%"
    # The first letter, in every spelling, filters cheaply before the costly folding.
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM territories t
             WHERE ($1 <> '' AND lower(left(t.name, 1)) = ANY($5::text[])
                    AND {_FOLDED_NAME} LIKE $1)
                OR t.code = $2
                OR t.postal_codes @> ARRAY[$2]
             ORDER BY (t.code = $2) DESC, ({_FOLDED_NAME} = $3) DESC,
                      t.population DESC NULLS LAST, {_LEVEL_RANK}, t.name, t.id
             LIMIT $4""",
        pattern if folded else "",
        raw,
        folded,
        limit,
        _spellings(folded[:1]),
    )
    return [Territory(**record_dict(row)) for row in rows]


def _spellings(letter: str) -> list[str]:
    """Every first character of a name that folds to this letter."""
    found = {letter, letter.upper()}
    found.update(a for a, p in zip(_ACCENTED, _PLAIN, strict=True) if p == letter)
    found.update({"o": ("œ", "Œ"), "a": ("æ", "Æ")}.get(letter, ()))
    return sorted(found)


async def insert_quartier(conn: Connection, commune_id: int, name: str) -> Territory | None:
    """Add an admin-made quartier to a commune, with its ancestry (the commune's and itself).

    Its code is the commune's, a dash and the slug of the name. None if that quartier exists;
    ValueError if commune_id is not a commune or the name has no letter or digit.
    """
    slug = slugify(name)
    if not slug:
        raise ValueError(f"a quartier name needs a letter or a digit: {name!r}")
    async with conn.transaction():
        row = await conn.fetchrow(
            f"""INSERT INTO territories AS t (level, code, name, kind, parent_id, zone)
                SELECT 'quartier', c.code || '-' || $2, $3, 'quartier', c.id, c.zone
                  FROM territories c
                 WHERE c.id = $1 AND c.level = 'commune'
                ON CONFLICT (level, code) DO NOTHING
                RETURNING {_COLUMNS}""",
            commune_id,
            slug,
            name.strip(),
        )
        if row is None:
            if (
                await conn.fetchval("SELECT level FROM territories WHERE id = $1", commune_id)
                != "commune"
            ):
                raise ValueError(f"territory {commune_id} is not a commune")
            return None
        await conn.execute(
            """INSERT INTO territory_ancestors (ancestor_id, descendant_id, depth)
               SELECT ancestor_id, $2::bigint, depth + 1 FROM territory_ancestors
                WHERE descendant_id = $1
               UNION ALL SELECT $1::bigint, $2::bigint, 1
                WHERE NOT EXISTS (SELECT 1 FROM territory_ancestors
                                   WHERE descendant_id = $1 AND ancestor_id = $1)
               UNION ALL SELECT $2::bigint, $2::bigint, 0""",
            commune_id,
            row["id"],
        )
    return Territory(**record_dict(row))


async def count_territories(conn: Connection) -> int:
    """How many territories are imported."""
    count: int = await conn.fetchval("SELECT count(*) FROM territories")
    return count


# --- the import (territories/importer.py) ----------------------------------------------------
# Rows and their links are copied into temporary tables, upserted one batch (a level, parents
# first) at a time, then the closure table is rebuilt for the imported territories and those
# below them by set difference. The temporary tables go with the transaction.

_IMPORT_LOCK_KEY = 0x7465727269  # "terri"
IMPORT_ROW_COLUMNS = (
    "batch", "level", "code", "name", "kind", "parent_level", "parent_code", "postal_codes",
    "population", "zone", "latitude", "longitude", "bbox", "geometry",
)  # fmt: skip
IMPORT_LINK_COLUMNS = (
    "child_level", "child_code", "parent_level", "parent_code", "depth", "inherit",
)  # fmt: skip

_CREATE_TEMP = """
DROP TABLE IF EXISTS _ti_rows, _ti_links, _ti_affected, _ti_edges, _ti_want;
CREATE TEMP TABLE _ti_rows (
    batch integer, level text, code text, name text, kind text, parent_level text,
    parent_code text, postal_codes text[], population integer, zone text,
    latitude double precision, longitude double precision, bbox double precision[],
    geometry text
) ON COMMIT DROP;
CREATE TEMP TABLE _ti_links (
    child_level text, child_code text, parent_level text, parent_code text, depth integer,
    inherit boolean
) ON COMMIT DROP;
"""

_UPSERT = """
WITH upserted AS (
    INSERT INTO territories AS t (level, code, name, kind, parent_id, postal_codes, population,
                                  zone, latitude, longitude, bbox, geometry)
    SELECT i.level, i.code, i.name, i.kind, p.id, i.postal_codes, i.population, i.zone,
           i.latitude, i.longitude, i.bbox, i.geometry::jsonb
      FROM _ti_rows i
      LEFT JOIN territories p ON p.level = i.parent_level AND p.code = i.parent_code
     WHERE i.batch = $1
    ON CONFLICT (level, code) DO UPDATE SET
        name = EXCLUDED.name, kind = EXCLUDED.kind, parent_id = EXCLUDED.parent_id,
        postal_codes = EXCLUDED.postal_codes, population = EXCLUDED.population,
        zone = EXCLUDED.zone,
        latitude = COALESCE(EXCLUDED.latitude, t.latitude),
        longitude = COALESCE(EXCLUDED.longitude, t.longitude),
        bbox = COALESCE(EXCLUDED.bbox, t.bbox),
        geometry = COALESCE(EXCLUDED.geometry, t.geometry),
        updated_at = now()
    WHERE (t.name, t.kind, t.parent_id, t.postal_codes, t.population, t.zone, t.latitude,
           t.longitude, t.bbox, t.geometry)
          IS DISTINCT FROM
          (EXCLUDED.name, EXCLUDED.kind, EXCLUDED.parent_id, EXCLUDED.postal_codes,
           EXCLUDED.population, EXCLUDED.zone, COALESCE(EXCLUDED.latitude, t.latitude),
           COALESCE(EXCLUDED.longitude, t.longitude), COALESCE(EXCLUDED.bbox, t.bbox),
           COALESCE(EXCLUDED.geometry, t.geometry))
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted) AS updated
  FROM upserted
"""

# The territories whose ancestry is rebuilt: the imported ones and everything below them now.
# Links of those below come from their current ancestry, since no input row describes them.
_PREPARE_ANCESTRY = """
CREATE TEMP TABLE _ti_affected (id bigint PRIMARY KEY, level text, imported boolean)
    ON COMMIT DROP;
INSERT INTO _ti_affected
SELECT t.id, t.level, true FROM _ti_rows i JOIN territories t USING (level, code);
INSERT INTO _ti_affected
SELECT DISTINCT a.descendant_id, d.level, false
  FROM _ti_affected x
  JOIN territory_ancestors a ON a.ancestor_id = x.id AND a.depth > 0
  JOIN territories d ON d.id = a.descendant_id
ON CONFLICT (id) DO NOTHING;
CREATE TEMP TABLE _ti_edges (child_id bigint, parent_id bigint, depth integer, inherit boolean)
    ON COMMIT DROP;
INSERT INTO _ti_edges
SELECT c.id, p.id, l.depth, l.inherit
  FROM _ti_links l
  JOIN territories c ON c.level = l.child_level AND c.code = l.child_code
  JOIN territories p ON p.level = l.parent_level AND p.code = l.parent_code;
INSERT INTO _ti_edges
SELECT x.id, p.id, a.depth, p.level <> 'epci'
  FROM _ti_affected x
  JOIN territory_ancestors a ON a.descendant_id = x.id AND a.depth > 0
  JOIN territories p ON p.id = a.ancestor_id
 WHERE NOT x.imported
   AND (x.level, p.level) IN (('region', 'country'), ('departement', 'region'),
                              ('epci', 'epci'), ('epci', 'departement'),
                              ('commune', 'epci'), ('commune', 'departement'),
                              ('quartier', 'commune'));
CREATE INDEX ON _ti_edges (child_id);
CREATE TEMP TABLE _ti_want (
    ancestor_id bigint, descendant_id bigint, depth integer,
    PRIMARY KEY (descendant_id, ancestor_id)
) ON COMMIT DROP;
ANALYZE _ti_affected;
ANALYZE _ti_edges;
"""

# One level at a time, top down: an inherited link points to a level already done (or to a
# territory outside the rebuild, whose ancestry stands).
_WANT_LEVEL = """
INSERT INTO _ti_want (ancestor_id, descendant_id, depth)
SELECT ancestor_id, descendant_id, min(depth) FROM (
    SELECT x.id AS ancestor_id, x.id AS descendant_id, 0 AS depth
      FROM _ti_affected x WHERE x.level = $1
    UNION ALL
    SELECT e.parent_id, e.child_id, e.depth
      FROM _ti_edges e JOIN _ti_affected x ON x.id = e.child_id
     WHERE x.level = $1 AND NOT e.inherit
    UNION ALL
    SELECT w.ancestor_id, e.child_id, w.depth + e.depth
      FROM _ti_edges e JOIN _ti_affected x ON x.id = e.child_id
      JOIN _ti_want w ON w.descendant_id = e.parent_id
     WHERE x.level = $1 AND e.inherit
    UNION ALL
    SELECT a.ancestor_id, e.child_id, a.depth + e.depth
      FROM _ti_edges e JOIN _ti_affected x ON x.id = e.child_id
      JOIN territory_ancestors a ON a.descendant_id = e.parent_id
     WHERE x.level = $1 AND e.inherit
       AND NOT EXISTS (SELECT 1 FROM _ti_affected y WHERE y.id = e.parent_id)
) pairs
GROUP BY ancestor_id, descendant_id
"""

_REMOVE_STALE = """
DELETE FROM territory_ancestors a
 USING _ti_affected x
 WHERE a.descendant_id = x.id
   AND NOT EXISTS (SELECT 1 FROM _ti_want w
                    WHERE w.descendant_id = a.descendant_id AND w.ancestor_id = a.ancestor_id)
"""
_RERANK = """
UPDATE territory_ancestors a SET depth = w.depth
  FROM _ti_want w
 WHERE a.descendant_id = w.descendant_id AND a.ancestor_id = w.ancestor_id
   AND a.depth <> w.depth
"""
_ADD_MISSING = """
INSERT INTO territory_ancestors (ancestor_id, descendant_id, depth)
SELECT w.ancestor_id, w.descendant_id, w.depth FROM _ti_want w
 WHERE NOT EXISTS (SELECT 1 FROM territory_ancestors a
                    WHERE a.descendant_id = w.descendant_id AND a.ancestor_id = w.ancestor_id)
"""


def _affected_count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


async def lock_import(conn: Connection) -> None:
    """One import at a time (until this transaction ends): two would each rebuild the ancestry
    from a stale view."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _IMPORT_LOCK_KEY)


async def select_parent_codes(conn: Connection) -> list[tuple[str, str, str | None, str | None]]:
    """(level, code, parent level, parent code) of every territory above the quartiers."""
    rows = await conn.fetch(
        """SELECT t.level, t.code, p.level AS parent_level, p.code AS parent_code
             FROM territories t LEFT JOIN territories p ON p.id = t.parent_id
            WHERE t.level <> 'quartier'"""
    )
    return [(r["level"], r["code"], r["parent_level"], r["parent_code"]) for r in rows]


async def stage_import(
    conn: Connection,
    rows: Iterable[tuple[object, ...]],
    links: Iterable[tuple[object, ...]],
) -> None:
    """Copy the rows (IMPORT_ROW_COLUMNS) and their links (IMPORT_LINK_COLUMNS) to import into
    temporary tables."""
    await conn.execute(_CREATE_TEMP)
    await conn.copy_records_to_table("_ti_rows", records=rows, columns=IMPORT_ROW_COLUMNS)
    await conn.copy_records_to_table("_ti_links", records=links, columns=IMPORT_LINK_COLUMNS)
    await conn.execute("ANALYZE _ti_rows")


async def upsert_import_batch(conn: Connection, batch: int) -> tuple[int, int]:
    """Upsert one batch of the staged rows; (inserted, updated), rows left as they were aside."""
    result = await conn.fetchrow(_UPSERT, batch)
    assert result is not None
    return result["inserted"], result["updated"]


async def prepare_import_ancestry(conn: Connection) -> None:
    """Stage the territories whose ancestry is rebuilt and the edges it is rebuilt from."""
    await conn.execute(_PREPARE_ANCESTRY)


async def want_import_ancestry(conn: Connection, level: str) -> None:
    """Compute the ancestry the staged territories of one level should have (levels top down)."""
    await conn.execute(_WANT_LEVEL, level)


async def remove_stale_ancestors(conn: Connection) -> int:
    """Delete the ancestry links the rebuilt territories should no longer have; how many."""
    return _affected_count(await conn.execute(_REMOVE_STALE))


async def rerank_ancestors(conn: Connection) -> int:
    """Correct the depth of the links that stay; how many changed."""
    return _affected_count(await conn.execute(_RERANK))


async def add_missing_ancestors(conn: Connection) -> int:
    """Insert the links the rebuilt territories lack; how many."""
    return _affected_count(await conn.execute(_ADD_MISSING))


async def drop_import_tables(conn: Connection) -> None:
    """Drop the import's temporary tables now rather than at commit."""
    await conn.execute("DROP TABLE _ti_rows, _ti_links, _ti_affected, _ti_edges, _ti_want")
