"""Listing texts: a price in the reader's language (the line we federate is French), and the
names of kinds, sections and categories in French for what we federate."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency

# What we federate is written in French, as for events (events/text.py).
FEDERATED_LOCALE = "fr"
_ZONE = ZoneInfo("Europe/Paris")
KIND_WORDS = {"ressource": "Ressource", "job": "Emploi", "classified": "Petite annonce"}
SECTION_WORDS = {
    "need": "Besoin",
    "offer": "Offre",
    "for_sale": "À vendre",
    "for_rent": "À louer",
}
CATEGORY_WORDS = {
    "service": "Service",
    "skill": "Compétence",
    "material": "Matériel",
    "job_offer": "Offre d'emploi",
    "training": "Formation",
    "internship": "Stage",
    "technology": "High-tech",
    "property": "Immobilier",
    "vehicles": "Véhicules",
    "home": "Maison",
    "leisure": "Loisirs",
    "fashion": "Mode",
    "other": "Autre",
}
_FREE = {"fr": "Gratuit", "en": "Free"}


def _locale(name: str) -> Locale:
    try:
        return Locale.parse(name.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(FEDERATED_LOCALE)


def format_price(price: Decimal | None, currency: str | None, locale: str) -> str:
    """A price as the reader's language writes it ("15 €" in French, "€15" in English; "Ğ1",
    which has no ISO code, where the sign of the euro would be); "Gratuit" for 0; "" for none."""
    if price is None:
        return ""
    loc = _locale(locale)
    if price == 0:
        return _FREE.get(loc.language, _FREE["en"])
    pattern = loc.currency_formats["standard"].pattern
    if price == price.to_integral_value():
        # Whole amounts without ",00", as classifieds write them.
        pattern = pattern.replace(".00", "")
    code = currency or "EUR"
    if code != "G1":
        return format_currency(price, code, locale=loc, format=pattern, currency_digits=False)
    # Babel knows no Ğ1: written with the euro's pattern, its sign replaced.
    written = format_currency(price, "EUR", locale=loc, format=pattern, currency_digits=False)
    sign = "€"
    before = pattern.lstrip().startswith("¤")
    return written.replace(sign, "Ğ1\u00a0" if before else "Ğ1", 1)


def until_words(expires_at: datetime, locale: str = FEDERATED_LOCALE) -> str:
    """The last day a listing is valid, in words ("3 janvier 2027")."""
    return format_date(expires_at.astimezone(_ZONE).date(), "long", locale=_locale(locale))
