"""Dataclasses and fixed vocabularies of listings (Communecter's classifieds, ressources, jobs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

ListingKind = Literal["classified", "ressource", "job"]
KINDS: tuple[ListingKind, ...] = ("ressource", "job", "classified")
# Each kind has its sections and categories, as Communecter's eco module files them.
SECTIONS: dict[str, tuple[str, ...]] = {
    "ressource": ("need", "offer"),
    "job": ("offer", "need"),
    "classified": ("for_sale", "for_rent"),
}
CATEGORIES: dict[str, tuple[str, ...]] = {
    "ressource": ("service", "skill", "material"),
    "job": ("job_offer", "training", "internship"),
    "classified": (
        "technology",
        "property",
        "vehicles",
        "home",
        "leisure",
        "fashion",
        "other",
    ),
}
# ISO 4217 codes, except Ğ1 (the libre currency), which has none: "G1" here and on the wire.
CURRENCIES: tuple[str, ...] = ("EUR", "G1", "GBP", "USD", "CHF", "XPF")
CURRENCY_SIGNS = {"EUR": "€", "G1": "Ğ1", "GBP": "£", "USD": "$", "CHF": "CHF", "XPF": "XPF"}
MAX_PRICE = Decimal("1000000000")
DEFAULT_VALIDITY = timedelta(days=30)
MAX_VALIDITY = timedelta(days=366)
MAX_TITLE = 200
MAX_DESCRIPTION = 10_000


@dataclass(frozen=True)
class ListingData:
    """A listing's columns before (or instead of) its row."""

    uri: str
    token: str | None
    url: str | None
    kind: str
    section: str
    category: str
    title: str
    description_source: str | None
    description_html: str
    price: Decimal | None
    currency: str | None
    expires_at: datetime
    territory_id: int
    latitude: float | None
    longitude: float | None
    author_uri: str
    local_actor_id: int | None
    posted_by: int | None
    raw: dict[str, Any] | None
    published: datetime
    updated: datetime | None = None


@dataclass(frozen=True)
class Listing(ListingData):
    """A stored listing, here or from another instance."""

    id: int = 0
    deleted_at: datetime | None = None

    @property
    def is_local(self) -> bool:
        """Written here (it has a page of ours)."""
        return self.token is not None

    def expired(self, now: datetime) -> bool:
        """Past its expiry: out of the lists, its page says so."""
        return self.expires_at <= now
