"""SQL for posts, their mentions and tags, likes and boosts."""

from __future__ import annotations

from datetime import datetime

from fedicity.db.pool import Connection, record_dict
from fedicity.located.queries import viewer_hides
from fedicity.posts.models import FeedEntry, Post, PostData

_COLUMNS = """p.id, p.uri, p.author_uri, p.local_actor_id, p.type, p.name, p.summary,
              p.content_html, p.in_reply_to, p.url, p.visibility, p.to_uris, p.cc_uris,
              p.sensitive, p.language, p.published, p.updated, p.deleted_at, p.raw"""
_COLUMNS_BUT_RAW = _COLUMNS.removesuffix(", p.raw")


def _post(row: object) -> Post:
    values = record_dict(row)  # type: ignore[arg-type]
    return Post(**{key: values[key] for key in Post.__dataclass_fields__})


async def upsert_post(conn: Connection, data: PostData) -> Post:
    """Insert a post, or update it in place when its URI is known; mentions and tags follow."""
    post, _ = await store_post(conn, data)
    return post


async def store_post(conn: Connection, data: PostData) -> tuple[Post, bool]:
    """`upsert_post`, and whether the post is new here: no row had its URI, even deleted."""
    # The columns one by one, not dataclasses.asdict: that deep-copies `raw`, the whole
    # document, for every post received. `raw` is not read back either: the row holds the value
    # sent (insert or update alike), so decoding it again would only copy it once more.
    # A new post's mentions and tags go in with it, in the same statement (one round trip).
    row = await conn.fetchrow(
        f"""WITH stored AS (
               INSERT INTO posts AS p (uri, author_uri, local_actor_id, type, name, summary,
                                       content_html, in_reply_to, url, visibility, to_uris,
                                       cc_uris, sensitive, language, published, updated, raw)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                       $17)
               ON CONFLICT (uri) DO UPDATE SET
                   type = EXCLUDED.type, name = EXCLUDED.name, summary = EXCLUDED.summary,
                   content_html = EXCLUDED.content_html, url = EXCLUDED.url,
                   sensitive = EXCLUDED.sensitive, language = EXCLUDED.language,
                   updated = EXCLUDED.updated, raw = EXCLUDED.raw
               WHERE p.author_uri = EXCLUDED.author_uri AND p.deleted_at IS NULL
               RETURNING {_COLUMNS_BUT_RAW}, p.xmax = 0 AS inserted),
            mentions AS (
               INSERT INTO post_mentions (post_id, actor_uri)
               SELECT stored.id, unnest($18::text[]) FROM stored WHERE stored.inserted
               ON CONFLICT DO NOTHING),
            tags AS (
               INSERT INTO post_tags (post_id, tag)
               SELECT stored.id, unnest($19::text[]) FROM stored WHERE stored.inserted
               ON CONFLICT DO NOTHING)
            SELECT * FROM stored""",
        data.uri,
        data.author_uri,
        data.local_actor_id,
        data.type,
        data.name,
        data.summary,
        data.content_html,
        data.in_reply_to,
        data.url,
        data.visibility,
        data.to_uris,
        data.cc_uris,
        data.sensitive,
        data.language,
        data.published,
        data.updated,
        data.raw,
        list(data.mentions),
        list(data.tags),
    )
    if row is None:  # an update by someone else, or of a deleted post: keep what we have
        existing = await select_post(conn, data.uri, include_deleted=True)
        assert existing is not None
        return existing, False
    values = record_dict(row)
    inserted = values.pop("inserted")
    post = Post(**values, raw=data.raw)
    if inserted:  # its mentions and tags went in with it
        return post, True
    await conn.execute("DELETE FROM post_mentions WHERE post_id = $1", post.id)
    await conn.execute("DELETE FROM post_tags WHERE post_id = $1", post.id)
    if data.mentions:
        await conn.execute(
            """INSERT INTO post_mentions (post_id, actor_uri)
               SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING""",
            post.id,
            list(data.mentions),
        )
    if data.tags:
        await conn.execute(
            """INSERT INTO post_tags (post_id, tag)
               SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING""",
            post.id,
            list(data.tags),
        )
    return post, False


async def select_author_reach(
    conn: Connection, author_uri: str, local_prefix: str
) -> tuple[str | None, bool]:
    """A remote author's followers collection (if we keep the author), and whether a local actor
    (URI under local_prefix) follows it, accepted or pending: one statement per post received."""
    row = await conn.fetchrow(
        """SELECT (SELECT followers_uri FROM remote_actors WHERE uri = $1) AS followers_uri,
                  EXISTS (SELECT FROM follows
                           WHERE followee = $1 AND follower LIKE $2 || '%') AS followed""",
        author_uri,
        local_prefix,
    )
    assert row is not None
    return row["followers_uri"], row["followed"]


async def select_post(conn: Connection, uri: str, *, include_deleted: bool = False) -> Post | None:
    """The post with this URI."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM posts p WHERE p.uri = $1 AND ($2 OR p.deleted_at IS NULL)",
        uri,
        include_deleted,
    )
    return None if row is None else _post(row)


async def select_local_post_author(conn: Connection, uri: str) -> str | None:
    """The author of the local post with this URI; None when it is not ours (or is deleted)."""
    # Not select_post: a reply arriving needs only this of its parent, not its whole document.
    author: str | None = await conn.fetchval(
        """SELECT author_uri FROM posts
            WHERE uri = $1 AND local_actor_id IS NOT NULL AND deleted_at IS NULL""",
        uri,
    )
    return author


async def select_post_mentions(conn: Connection, post_id: int) -> list[str]:
    """The actors a post mentions, by URI."""
    rows = await conn.fetch(
        "SELECT actor_uri FROM post_mentions WHERE post_id = $1 ORDER BY actor_uri", post_id
    )
    return [row["actor_uri"] for row in rows]


async def select_post_tags(conn: Connection, post_id: int) -> list[str]:
    """A post's hashtags, without the #."""
    rows = await conn.fetch("SELECT tag FROM post_tags WHERE post_id = $1 ORDER BY tag", post_id)
    return [row["tag"] for row in rows]


async def mark_post_deleted(conn: Connection, uri: str, author_uri: str, when: datetime) -> bool:
    """Tombstone a post if `author_uri` wrote it; whether it did."""
    result = await conn.execute(
        """UPDATE posts SET deleted_at = $3, content_html = '', raw = NULL
            WHERE uri = $1 AND author_uri = $2 AND deleted_at IS NULL""",
        uri,
        author_uri,
        when,
    )
    return result != "UPDATE 0"


async def delete_posts_of(conn: Connection, author_uri: str, when: datetime) -> int:
    """Tombstone every post of a deleted actor."""
    result = await conn.execute(
        """UPDATE posts SET deleted_at = $2, content_html = '', raw = NULL
            WHERE author_uri = $1 AND deleted_at IS NULL""",
        author_uri,
        when,
    )
    return int(result.rsplit(" ", 1)[-1])


async def select_author_posts(
    conn: Connection,
    author_uri: str,
    *,
    limit: int,
    visibilities: tuple[str, ...] = ("public", "unlisted"),
    before_id: int | None = None,
) -> list[Post]:
    """An author's posts, newest first, keyset-paged by id."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM posts p
             WHERE p.author_uri = $1 AND p.deleted_at IS NULL
               AND p.visibility = ANY($2::text[]) AND ($3::bigint IS NULL OR p.id < $3)
             ORDER BY p.id DESC LIMIT $4""",
        author_uri,
        list(visibilities),
        before_id,
        limit,
    )
    return [_post(row) for row in rows]


async def count_author_posts(conn: Connection, author_uri: str) -> int:
    """How many public or unlisted posts an author has."""
    count: int = await conn.fetchval(
        """SELECT count(*) FROM posts WHERE author_uri = $1 AND deleted_at IS NULL
              AND visibility IN ('public', 'unlisted')""",
        author_uri,
    )
    return count


async def count_local_posts(conn: Connection) -> int:
    """Posts written on this instance (NodeInfo localPosts)."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM posts WHERE local_actor_id IS NOT NULL AND deleted_at IS NULL"
    )
    return count


async def select_home_feed(
    conn: Connection,
    me: str,
    *,
    limit: int,
    before: tuple[datetime, int] | None = None,
    owner_id: int | None = None,
) -> list[FeedEntry]:
    """A local actor's home feed: own posts, posts and boosts of followed actors, mentions.

    Newest first, keyset-paged by (moment, post id): `before` is the last entry of the page seen.
    With `owner_id` (the actor's row), what it blocks or mutes is left out, authors and boosters
    alike, and the boosts of accounts whose boosts it hides.
    """
    rows = await conn.fetch(
        f"""WITH followed AS (
                SELECT followee FROM follows WHERE follower = $1 AND state = 'accepted')
            SELECT {_COLUMNS}, NULL::text AS boosted_by, p.published AS sort_at
              FROM posts p
             WHERE p.deleted_at IS NULL AND (
                   p.author_uri = $1
                OR (p.author_uri IN (SELECT followee FROM followed) AND p.visibility <> 'direct')
                OR EXISTS (SELECT 1 FROM post_mentions m
                            WHERE m.post_id = p.id AND m.actor_uri = $1)
                OR $1 = ANY(p.to_uris) OR $1 = ANY(p.cc_uris))
               AND ($3::timestamptz IS NULL OR (p.published, p.id) < ($3, $4))
               AND ($5::bigint IS NULL OR NOT {viewer_hides("$5", "p.author_uri")})
            UNION ALL
            SELECT {_COLUMNS}, i.actor_uri AS boosted_by, i.published AS sort_at
              FROM interactions i JOIN posts p ON p.uri = i.object_uri
             WHERE i.kind = 'announce' AND i.actor_uri IN (SELECT followee FROM followed)
               AND p.deleted_at IS NULL AND p.visibility IN ('public', 'unlisted')
               AND ($3::timestamptz IS NULL OR (i.published, p.id) < ($3, $4))
               AND ($5::bigint IS NULL OR (
                        NOT {viewer_hides("$5", "i.actor_uri")}
                    AND NOT {viewer_hides("$5", "p.author_uri")}
                    AND NOT EXISTS (SELECT 1 FROM hidden_boosts hb
                                     WHERE hb.owner_id = $5 AND hb.target = i.actor_uri)))
             ORDER BY sort_at DESC, id DESC
             LIMIT $2""",
        me,
        limit,
        before[0] if before else None,
        before[1] if before else None,
        owner_id,
    )
    entries = []
    for row in rows:
        values = record_dict(row)
        entries.append(FeedEntry(_post(row), values["boosted_by"], values["sort_at"]))
    return entries


async def select_replies(
    conn: Connection, uri: str, *, limit: int, after_id: int = 0, viewer_id: int | None = None
) -> list[Post]:
    """Public replies to a post, oldest first; without those of actors a local viewer (its
    actor row) blocks, mutes or blocks the domain of."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM posts p
             WHERE p.in_reply_to = $1 AND p.deleted_at IS NULL
               AND p.visibility IN ('public', 'unlisted') AND p.id > $2
               AND ($4::bigint IS NULL OR NOT {viewer_hides("$4", "p.author_uri")})
             ORDER BY p.id LIMIT $3""",
        uri,
        after_id,
        limit,
        viewer_id,
    )
    return [_post(row) for row in rows]


async def count_replies(conn: Connection, uri: str) -> int:
    """Public replies to a post."""
    count: int = await conn.fetchval(
        """SELECT count(*) FROM posts WHERE in_reply_to = $1 AND deleted_at IS NULL
              AND visibility IN ('public', 'unlisted')""",
        uri,
    )
    return count


async def insert_interaction(
    conn: Connection,
    *,
    activity_uri: str,
    kind: str,
    actor_uri: str,
    object_uri: str,
    when: datetime,
) -> bool:
    """Record a like or boost once; whether it was new."""
    row_id = await conn.fetchval(
        """INSERT INTO interactions (activity_uri, kind, actor_uri, object_uri, published)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id""",
        activity_uri,
        kind,
        actor_uri,
        object_uri,
        when,
    )
    return row_id is not None


async def delete_interaction(
    conn: Connection, *, kind: str, actor_uri: str, activity_uri: str | None, object_uri: str | None
) -> bool:
    """Remove a like or boost by its activity id or its object; whether one existed."""
    result = await conn.execute(
        """DELETE FROM interactions
            WHERE kind = $1 AND actor_uri = $2
              AND (activity_uri = $3 OR object_uri = $4)""",
        kind,
        actor_uri,
        activity_uri,
        object_uri,
    )
    return result != "DELETE 0"


async def select_interaction_uri(
    conn: Connection, *, kind: str, actor_uri: str, object_uri: str
) -> str | None:
    """The activity id of an actor's like or boost of an object, if there is one."""
    uri: str | None = await conn.fetchval(
        """SELECT activity_uri FROM interactions
            WHERE kind = $1 AND actor_uri = $2 AND object_uri = $3""",
        kind,
        actor_uri,
        object_uri,
    )
    return uri


async def select_interaction_states(
    conn: Connection, actor_uri: str, object_uris: list[str]
) -> dict[str, dict[str, int | bool]]:
    """Per object: its like and boost counts, and whether `actor_uri` liked or boosted it."""
    rows = await conn.fetch(
        """SELECT object_uri,
                  count(*) FILTER (WHERE kind = 'like') AS likes,
                  count(*) FILTER (WHERE kind = 'announce') AS announces,
                  bool_or(kind = 'like' AND actor_uri = $1) AS liked,
                  bool_or(kind = 'announce' AND actor_uri = $1) AS announced
             FROM interactions WHERE object_uri = ANY($2::text[])
            GROUP BY object_uri""",
        actor_uri,
        object_uris,
    )
    return {
        row["object_uri"]: {
            "likes": row["likes"],
            "announces": row["announces"],
            "liked": bool(row["liked"]),
            "announced": bool(row["announced"]),
        }
        for row in rows
    }


async def count_interactions(conn: Connection, object_uri: str, kind: str) -> int:
    """Likes or boosts of an object."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM interactions WHERE object_uri = $1 AND kind = $2", object_uri, kind
    )
    return count


async def select_liked_page(
    conn: Connection, actor_uri: str, *, limit: int, before_id: int | None = None
) -> list[tuple[int, str]]:
    """(id, object URI) of what an actor liked, newest first."""
    rows = await conn.fetch(
        """SELECT id, object_uri FROM interactions
            WHERE actor_uri = $1 AND kind = 'like' AND ($2::bigint IS NULL OR id < $2)
            ORDER BY id DESC LIMIT $3""",
        actor_uri,
        before_id,
        limit,
    )
    return [(row["id"], row["object_uri"]) for row in rows]


async def count_liked(conn: Connection, actor_uri: str) -> int:
    """How many objects an actor liked."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM interactions WHERE actor_uri = $1 AND kind = 'like'", actor_uri
    )
    return count


async def select_tag_posts(
    conn: Connection,
    tag: str,
    *,
    limit: int,
    before_id: int | None = None,
    viewer_id: int | None = None,
) -> list[Post]:
    """Public posts with a hashtag, newest first; without those of actors a local viewer (its
    actor row) blocks, mutes or blocks the domain of."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM post_tags t JOIN posts p ON p.id = t.post_id
             WHERE t.tag = $1 AND p.deleted_at IS NULL AND p.visibility = 'public'
               AND ($2::bigint IS NULL OR p.id < $2)
               -- A public page: nothing of a silenced or suspended domain (migration 0020).
               AND (NOT EXISTS (SELECT 1 FROM domain_policies
                                 WHERE action IN ('silence', 'suspend'))
                    OR NOT (domain_hidden(p.uri, (SELECT domain_policy_map()))
                            OR domain_hidden(p.author_uri, (SELECT domain_policy_map()))))
               AND ($4::bigint IS NULL OR NOT {viewer_hides("$4", "p.author_uri")})
             ORDER BY p.id DESC LIMIT $3""",
        tag.lower(),
        before_id,
        limit,
        viewer_id,
    )
    return [_post(row) for row in rows]
