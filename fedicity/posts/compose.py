"""Text typed by a local author, turned into post HTML with links, mentions and hashtags."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from fedicity.sanitize import safe_url

_TOKEN = re.compile(
    r"(?P<url>https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]])"
    r"|(?P<mention>(?<![\w/])@(?P<user>[A-Za-z0-9_]{1,64})(?:@(?P<host>[A-Za-z0-9.\-]+(?::\d+)?))?)"
    r"|(?P<tag>(?<![\w/&])#(?P<tagname>\w{1,100}))"
)
_PARAGRAPHS = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class Mention:
    """A resolved @mention: what was typed, the actor it names and where its profile is shown
    (a remote actor's `url`, which compose links to only when it is http(s))."""

    text: str
    actor_uri: str
    profile_url: str


@dataclass(frozen=True)
class Composed:
    """The HTML of a post and what it links to."""

    html: str
    mentions: tuple[Mention, ...]
    tags: tuple[str, ...]


def find_handles(text: str, local_host: str) -> list[tuple[str, str]]:
    """Every (username, host) typed as @user or @user@host, in order, without repeats."""
    found: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(text):
        if match.group("mention"):
            pair = (match.group("user").lower(), (match.group("host") or local_host).lower())
            if pair not in found:
                found.append(pair)
    return found


def compose(
    text: str,
    *,
    local_host: str,
    resolved: dict[tuple[str, str], Mention],
    tag_url: str,
) -> Composed:
    """Escape `text` and link URLs, resolved mentions and #hashtags (tag_url has {tag})."""
    mentions: dict[str, Mention] = {}
    tags: list[str] = []

    def render(segment: str) -> str:
        out: list[str] = []
        position = 0
        for match in _TOKEN.finditer(segment):
            out.append(html.escape(segment[position : match.start()]))
            position = match.end()
            token = match.group(0)
            if match.group("url"):
                href = html.escape(token, quote=True)
                out.append(
                    f'<a href="{href}" rel="nofollow noopener noreferrer">{html.escape(token)}</a>'
                )
            elif match.group("mention"):
                key = (match.group("user").lower(), (match.group("host") or local_host).lower())
                mention = resolved.get(key)
                if mention is None:
                    out.append(html.escape(token))
                    continue
                mentions[mention.actor_uri] = mention
                user = html.escape(match.group("user"))
                # The profile URL comes from another server: a javascript: one must never
                # become a link in our post (which we serve and federate).
                target = safe_url(mention.profile_url) or safe_url(mention.actor_uri)
                if target is None:
                    out.append(html.escape(token))
                    continue
                profile = html.escape(target, quote=True)
                out.append(
                    f'<span class="h-card"><a href="{profile}" class="u-url mention">'
                    f"@<span>{user}</span></a></span>"
                )
            else:
                name = match.group("tagname")
                if name.lower() not in tags:
                    tags.append(name.lower())
                href = html.escape(tag_url.format(tag=name.lower()), quote=True)
                out.append(
                    f'<a href="{href}" class="mention hashtag" rel="tag">'
                    f"#<span>{html.escape(name)}</span></a>"
                )
        out.append(html.escape(segment[position:]))
        return "".join(out)

    paragraphs = [p.strip() for p in _PARAGRAPHS.split(text.replace("\r\n", "\n"))]
    body = "".join("<p>" + render(p).replace("\n", "<br>") + "</p>" for p in paragraphs if p)
    return Composed(body, tuple(mentions.values()), tuple(tags))
