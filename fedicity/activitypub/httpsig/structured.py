"""Structured Field Values (RFC 8941): the dictionary, inner list and parameters subset RFC 9421
and RFC 9530 need, plus the serialisation of an inner list for "@signature-params"."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NoReturn, TypeAlias

from fedicity.activitypub.httpsig.wire import b64decode, b64encode


@dataclass(frozen=True)
class Token:
    """A token (RFC 8941 section 3.3.4): a bare word such as an algorithm name."""

    value: str


BareItem: TypeAlias = bool | int | Decimal | str | bytes | Token


@dataclass(frozen=True)
class Item:
    """A bare item and its parameters."""

    value: BareItem
    params: dict[str, BareItem] = field(default_factory=dict)


@dataclass(frozen=True)
class InnerList:
    """A parenthesised list of items and its parameters, as in Signature-Input."""

    items: tuple[Item, ...]
    params: dict[str, BareItem] = field(default_factory=dict)


class _SyntaxError(Exception):
    """Unwinds the structured-field parser; caught in this module and turned into a failure."""


# A dictionary key, and so a valid RFC 9421 signature label.
SF_KEY = re.compile(r"[a-z*][a-z0-9_.*-]*")
_SF_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_SF_NUMBER = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?")
_SF_BYTES = re.compile(r":([A-Za-z0-9+/=]*):")


class _SFParser:
    """A recursive-descent parser following RFC 8941 section 4.2 step by step."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, what: str) -> NoReturn:
        raise _SyntaxError(f"{what} at character {self.pos + 1}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def skip(self, chars: str) -> None:
        while not self.at_end() and self.text[self.pos] in chars:
            self.pos += 1

    def dictionary(self) -> dict[str, Item | InnerList]:
        self.skip(" ")
        members: dict[str, Item | InnerList] = {}
        while not self.at_end():
            key = self.key()
            if self.peek() == "=":
                self.pos += 1
                members[key] = self.inner_list() if self.peek() == "(" else self.item()
            else:
                members[key] = Item(True, self.params())
            self.skip(" \t")
            if self.at_end():
                break
            if self.peek() != ",":
                self.error("expected a comma")
            self.pos += 1
            self.skip(" \t")
            if self.at_end():
                self.error("trailing comma")
        return members

    def inner_list(self) -> InnerList:
        self.pos += 1
        items: list[Item] = []
        while not self.at_end():
            self.skip(" ")
            if self.peek() == ")":
                self.pos += 1
                return InnerList(tuple(items), self.params())
            items.append(self.item())
            if self.peek() not in (" ", ")"):
                self.error("expected a space or ')'")
        self.error("unterminated inner list")

    def item(self) -> Item:
        return Item(self.bare_item(), self.params())

    def params(self) -> dict[str, BareItem]:
        params: dict[str, BareItem] = {}
        while self.peek() == ";":
            self.pos += 1
            self.skip(" ")
            key = self.key()
            value: BareItem = True
            if self.peek() == "=":
                self.pos += 1
                value = self.bare_item()
            params[key] = value
        return params

    def key(self) -> str:
        match = SF_KEY.match(self.text, self.pos)
        if match is None:
            self.error("expected a key")
        self.pos = match.end()
        return match.group()

    def bare_item(self) -> BareItem:
        char = self.peek()
        if char == "-" or char.isdigit():
            return self.number()
        if char == '"':
            return self.string()
        if char == ":":
            return self.byte_sequence()
        if char == "?":
            return self.boolean()
        if char == "*" or (char.isascii() and char.isalpha()):
            return self.token()
        self.error("expected an item")

    def number(self) -> int | Decimal:
        match = _SF_NUMBER.match(self.text, self.pos)
        if match is None:
            self.error("expected a number")
        whole, fraction = match.groups()
        if fraction is None and len(whole) > 15:
            self.error("integer too long")
        if fraction is not None and (len(whole) > 12 or len(fraction) > 3):
            self.error("decimal too long")
        self.pos = match.end()
        return int(match.group()) if fraction is None else Decimal(match.group())

    def string(self) -> str:
        self.pos += 1
        chars: list[str] = []
        while not self.at_end():
            char = self.text[self.pos]
            self.pos += 1
            if char == '"':
                return "".join(chars)
            if char == "\\":
                escaped = self.peek()
                if escaped not in ('"', "\\"):
                    self.error("bad escape in string")
                self.pos += 1
                chars.append(escaped)
            elif " " <= char <= "~":
                chars.append(char)
            else:
                self.error("invalid character in string")
        self.error("unterminated string")

    def token(self) -> Token:
        match = _SF_TOKEN.match(self.text, self.pos)
        if match is None:
            self.error("expected a token")
        self.pos = match.end()
        return Token(match.group())

    def byte_sequence(self) -> bytes:
        match = _SF_BYTES.match(self.text, self.pos)
        decoded = None if match is None else b64decode(match.group(1))
        if match is None or decoded is None:
            self.error("invalid byte sequence")
        self.pos = match.end()
        return decoded

    def boolean(self) -> bool:
        value = self.text[self.pos + 1 : self.pos + 2]
        if value not in ("0", "1"):
            self.error("invalid boolean")
        self.pos += 2
        return value == "1"


def parse_dictionary(text: str) -> dict[str, Item | InnerList] | None:
    """A structured-field dictionary, or None when the text is not one."""
    try:
        return _SFParser(text).dictionary()
    except _SyntaxError:
        return None


def _serialize_bare(value: BareItem) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        whole, _, fraction = format(value, "f").partition(".")
        return f"{whole}.{fraction.rstrip('0') or '0'}"
    if isinstance(value, Token):
        return value.value
    if isinstance(value, bytes):
        return f":{b64encode(value)}:"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def serialize_params(params: Mapping[str, BareItem]) -> str:
    """Parameters serialised as `;key=value`, a true flag as `;key`."""
    return "".join(
        f";{key}" if value is True else f";{key}={_serialize_bare(value)}"
        for key, value in params.items()
    )


def serialize_inner_list(inner: InnerList) -> str:
    """An inner list serialised, as "@signature-params" needs it."""
    items = " ".join(_serialize_bare(i.value) + serialize_params(i.params) for i in inner.items)
    return f"({items}){serialize_params(inner.params)}"
