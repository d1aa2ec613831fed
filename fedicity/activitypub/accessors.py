"""Tolerant readers for ActivityStreams JSON as real servers send it.

Peers differ: a property may be a string, an object with an `id`, or a list of either (GoToSocial
compacts single values, Lemmy omits @context, Gancio sends relative hrefs). Handlers read documents
through these functions instead of indexing dicts directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fedicity.activitypub.vocab import PUBLIC
from fedicity.sanitize import safe_url

_PUBLIC_ALIASES = frozenset({PUBLIC, "as:Public", "Public"})


def as_list(value: Any) -> list[Any]:
    """A property's values as a list (absent -> [], single -> [value])."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def get_id(value: Any) -> str | None:
    """The IRI of a reference: a string, or an object's `id`; None otherwise."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, Mapping):
        ident = value.get("id")
        return ident if isinstance(ident, str) and ident else None
    return None


def get_ids(value: Any) -> list[str]:
    """The IRIs of every reference in a property, skipping what is not a reference."""
    return [ident for item in as_list(value) if (ident := get_id(item)) is not None]


def get_web_url(value: Any) -> str | None:
    """The first http(s) URL of a `url`-like property: an IRI, a Link (`href`), an object with an
    `id`, or a list of them; None when there is none (see sanitize.safe_url)."""
    for item in as_list(value):
        candidate = get_id(item)
        if isinstance(item, Mapping):
            found = safe_url(get_str(item, "href")) or safe_url(candidate)
        else:
            found = safe_url(candidate)
        if found is not None:
            return found
    return None


def get_str(document: Mapping[str, Any], key: str) -> str | None:
    """A string property, or None when absent or of another type."""
    value = document.get(key)
    return value if isinstance(value, str) else None


def get_type(document: Mapping[str, Any]) -> str | None:
    """The first type name of a document (`type` may be a list)."""
    for value in as_list(document.get("type")):
        if isinstance(value, str):
            return value.removeprefix("as:")
    return None


def get_object(document: Mapping[str, Any], key: str = "object") -> Mapping[str, Any] | None:
    """An embedded object (the first one if a list), or None when it is only a reference."""
    for value in as_list(document.get(key)):
        if isinstance(value, Mapping):
            return value
    return None


def is_public(uri: str) -> bool:
    """Whether an addressee means 'everyone' (the three spellings peers use)."""
    return uri in _PUBLIC_ALIASES


def audience(document: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The `to` and `cc` IRIs of a document."""
    return get_ids(document.get("to")), get_ids(document.get("cc"))


_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def host_of(uri: str) -> str:
    """The authority of an absolute IRI as compared everywhere: host and port, lower case.

    User info is dropped and the scheme's default port too, so `https://u@h:443/x` is on `h`
    like `https://h/x` is: "is this ours?" and "is this on the actor's host?" must not be
    answerable both ways for one server. A port that is not the default is kept: another port
    of our host name is another server. '' when there is no authority.
    """
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(uri)
    except ValueError:
        return ""
    authority = parts.netloc.rpartition("@")[2].lower()
    default = _DEFAULT_PORTS.get(parts.scheme.lower())
    if default is not None and authority.endswith(default):
        authority = authority.removesuffix(default)
    return authority
