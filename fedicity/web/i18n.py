"""French and English UI: gettext catalogs compiled in memory, locale chosen per request."""

from __future__ import annotations

import io
from collections.abc import Mapping
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from quart import Request

LOCALES = ("fr", "en")
SOURCE_LOCALE = "en"  # msgids are English; French comes from translations/fr/LC_MESSAGES
TRANSLATIONS_DIR = Path(__file__).parent / "translations"

_SOURCE = NullTranslations()
_current: ContextVar[NullTranslations] = ContextVar("translations", default=_SOURCE)


@lru_cache(maxsize=len(LOCALES))
def translations_for(locale: str) -> NullTranslations:
    """The compiled catalog for a locale (the English source needs none)."""
    if locale == SOURCE_LOCALE:
        return _SOURCE
    po_path = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def chosen_now(request: Request) -> str | None:
    """The language a ?lang= link asks for, when it is one we have."""
    chosen = request.args.get("lang")
    return chosen if chosen in LOCALES else None


def choose_locale(request: Request, account_locale: str | None, default: str) -> str:
    """The language just chosen with ?lang=, else the account's choice, else the lang cookie,
    else Accept-Language, else the default."""
    now = chosen_now(request)
    if now is not None:
        return now
    if account_locale in LOCALES:
        return account_locale
    cookie = request.cookies.get("lang")
    if cookie in LOCALES:
        return cookie
    best = request.accept_languages.best_match(LOCALES)
    return best if best in LOCALES else default


def activate(locale: str) -> None:
    """Use this locale's catalog for the rest of the request."""
    _current.set(translations_for(locale))


def gettext(message: str, **variables: object) -> str:
    """Translate a message into the request's locale, then fill %(name)s placeholders."""
    text = _current.get().ugettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    """Translate with a plural form."""
    text = _current.get().ungettext(singular, plural, n)
    values: Mapping[str, object] = {"num": n, **variables}
    return text % values


def lazy(message: str) -> str:
    """Mark a message for extraction where it is defined; translate it with gettext() later."""
    return message
