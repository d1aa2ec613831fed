"""The territory tree from @etalab/decoupage-administratif's data folder (its JSON files), the
source the shipped file is derived from."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from fedicity.territories.models import (
    COUNTRY_CODE,
    COUNTRY_NAME,
    LEVEL_RANK,
    LEVELS,
    ImportFormatError,
    TerritoryRow,
)

Record = dict[str, Any]


def _load_json(directory: Path, name: str) -> list[Record]:
    path = directory / name
    try:
        with path.open(encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise ImportFormatError(
            f"{directory}: no {name} (not the package's data folder?)"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ImportFormatError(f"{path}: unreadable JSON ({error})") from error
    if not isinstance(data, list):
        raise ImportFormatError(f"{path}: expected a JSON array")
    return cast(list[Record], data)


def package_rows(directory: Path) -> list[TerritoryRow]:
    """The tree from @etalab/decoupage-administratif's data folder, in the shipped file's order.

    Communes actuelles are communes; communes déléguées, associées and arrondissements municipaux
    are quartiers of theirs. EPTs (ept.json, if present) are EPCIs inside the métropole that
    holds their communes. Populations above the commune are sums over their communes.
    """
    try:
        return _package_rows(directory)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ImportFormatError(f"{directory}: unexpected package data ({error!r})") from error


class _Populations:
    """Populations summed over communes, per key: FR, 'r' + région, 'd' + département and
    'e' + EPCI code. A key none of whose communes has a population has none (None, not 0)."""

    def __init__(self) -> None:
        self._sums: Counter[str] = Counter()
        self._populated: set[str] = set()

    def count(self, key: str, commune: Mapping[str, Any]) -> None:
        if commune.get("population") is not None:
            self._sums[key] += int(commune["population"])
            self._populated.add(key)

    def of(self, key: str) -> int | None:
        return self._sums[key] if key in self._populated else None


def _package_rows(directory: Path) -> list[TerritoryRow]:
    regions = _load_json(directory, "regions.json")
    departements = _load_json(directory, "departements.json")
    epcis = _load_json(directory, "epci.json")
    communes = _load_json(directory, "communes.json")
    epts = _load_json(directory, "ept.json") if (directory / "ept.json").exists() else []

    actuelles = {c["code"]: c for c in communes if c.get("type") == "commune-actuelle"}
    populations = _Populations()
    for commune in actuelles.values():
        for key in (COUNTRY_CODE, "r" + commune["region"], "d" + commune["departement"]):
            populations.count(key, commune)
    member_of: dict[str, list[str]] = defaultdict(list)  # commune -> EPCIs, innermost first
    rows = _upper_rows(regions, departements, populations)
    rows += _epci_rows(epts, epcis, actuelles, populations, member_of)
    rows += [_commune_row(commune, member_of) for commune in actuelles.values()]
    rows += [_quartier_row(q) for q in communes if q.get("type") != "commune-actuelle"]
    rows.sort(key=lambda row: (LEVEL_RANK.get(row.level, len(LEVELS)), row.code))
    return [replace(row, line=line) for line, row in enumerate(rows, start=2)]


def _upper_rows(
    regions: list[Record], departements: list[Record], populations: _Populations
) -> list[TerritoryRow]:
    """The country, its régions and its départements."""
    rows = [
        TerritoryRow(
            0, "country", COUNTRY_CODE, COUNTRY_NAME, population=populations.of(COUNTRY_CODE)
        )
    ]
    rows += [
        TerritoryRow(
            0,
            "region",
            r["code"],
            r["nom"],
            zone=r.get("zone"),
            population=populations.of("r" + r["code"]),
        )
        for r in regions
    ]
    rows += [
        TerritoryRow(
            0,
            "departement",
            d["code"],
            d["nom"],
            region=d["region"],
            zone=d.get("zone"),
            population=populations.of("d" + d["code"]),
        )
        for d in departements
    ]
    return rows


def _epci_rows(
    epts: list[Record],
    epcis: list[Record],
    actuelles: Mapping[str, Record],
    populations: _Populations,
    member_of: dict[str, list[str]],
) -> list[TerritoryRow]:
    """The EPTs, then the EPCIs; each commune's EPCIs are recorded in `member_of`, innermost
    (an EPT) first."""
    epci_of = {member["code"]: epci["code"] for epci in epcis for member in epci["membres"]}
    rows: list[TerritoryRow] = []
    for group, outer in ((epts, True), (epcis, False)):
        for epci in group:
            members = [actuelles[m["code"]] for m in epci["membres"] if m["code"] in actuelles]
            for commune in members:
                member_of[commune["code"]].append(epci["code"])
                populations.count("e" + epci["code"], commune)
            # An EPT lies inside the EPCI (the Métropole du Grand Paris) holding its communes.
            containers = Counter(epci_of[c["code"]] for c in members if c["code"] in epci_of)
            container = containers.most_common(1)[0][0] if outer and containers else None
            rows.append(_epci_row(epci, members, container, populations))
    return rows


def _epci_row(
    epci: Record, members: list[Record], container: str | None, populations: _Populations
) -> TerritoryRow:
    """An EPCI (or EPT): its départements, the one holding most of its people first."""
    by_departement: Counter[str] = Counter()
    for commune in members:
        by_departement[commune["departement"]] += int(commune.get("population") or 0)
    zones = Counter(c.get("zone") for c in members)
    return TerritoryRow(
        0,
        "epci",
        epci["code"],
        epci["nom"],
        kind=epci.get("type") or None,
        departements=tuple(sorted(by_departement, key=lambda d: (-by_departement[d], d))),
        epcis=() if container is None else (container,),
        population=populations.of("e" + epci["code"]),
        zone=zones.most_common(1)[0][0] if zones else None,
    )


def _commune_row(commune: Record, member_of: Mapping[str, list[str]]) -> TerritoryRow:
    return TerritoryRow(
        0,
        "commune",
        commune["code"],
        commune["nom"],
        region=commune["region"],
        departements=(commune["departement"],),
        epcis=tuple(member_of.get(commune["code"], ())),
        postal_codes=tuple(commune.get("codesPostaux") or ()),
        population=commune.get("population"),
        zone=commune.get("zone"),
    )


def _quartier_row(quartier: Record) -> TerritoryRow:
    """A commune déléguée, associée or arrondissement municipal, as a quartier of its commune."""
    return TerritoryRow(
        0,
        "quartier",
        quartier["code"],
        quartier["nom"],
        kind=quartier.get("type"),
        commune=quartier.get("commune") or quartier.get("chefLieu"),
        postal_codes=tuple(quartier.get("codesPostaux") or ()),
        population=quartier.get("population"),
        zone=quartier.get("zone"),
    )
