"""A small slice of the French territory tree (Montreuil and Bagnolet in Seine-Saint-Denis),
imported through the real importer, for tests that need served territories."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from quart import Quart

from fedicity.activitypub.keys import KeyGenerator
from fedicity.clock import Clock
from fedicity.db.pool import Pool
from fedicity.settings import Settings
from fedicity.territories.importer import import_territories
from fedicity.territories.service import prepare_serving
from fedicity.web.app import create_app

HEADER = (
    "level,code,name,kind,region,departement,epci,commune,postal_codes,population,zone,"
    "latitude,longitude,bbox"
)
ROWS = [
    "country,FR,France,,,,,,,68952941,,,,",
    "region,11,Île-de-France,,,,,,,12463067,metro,,,",
    "departement,93,Seine-Saint-Denis,,11,,,,,1704316,metro,,,",
    "departement,75,Paris,,11,,,,,2113705,metro,,,",
    "epci,200054781,Métropole du Grand Paris,METRO,,75 93,,,,7000000,metro,,,",
    "epci,200057875,Est Ensemble,EPT,,93,200054781,,,447969,metro,,,",
    "commune,93048,Montreuil,,11,93,200057875 200054781,,93100,111934,metro,48.8638,2.4485,",
    "commune,93006,Bagnolet,,11,93,200057875 200054781,,93170,43086,metro,48.8692,2.4183,",
]


def write_slice(directory: Path) -> Path:
    """The slice as a CSV file in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "slice.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    return path


async def import_slice(pool: Pool, directory: Path) -> None:
    """Import the slice into the database behind `pool`."""
    path = await asyncio.to_thread(write_slice, directory)
    async with pool.acquire() as conn:
        report = await import_territories(conn, path, source_format="csv")
    assert not report.skipped, report.skipped


@asynccontextmanager
async def served_app(
    settings: Settings, pool: Pool, clock: Clock, keygen: KeyGenerator, directory: Path
) -> AsyncIterator[Quart]:
    """The app, started after the slice was imported and the territory `settings` names
    prepared to be served."""
    await import_slice(pool, directory)
    assert await prepare_serving(pool, settings) is not None
    application = create_app(settings, pool=pool, clock=clock, keygen=keygen)
    async with application.test_app():
        yield application
