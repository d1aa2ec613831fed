"""Schemathesis against /openapi.json on a real server on loopback: every documented operation,
with data the document allows and data it forbids, answers no 5xx and only what it declares
(status codes, content types, bodies). Seeded and bounded, so it is reproducible and quick."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fedicity.accounts import api_tokens
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.organizations import service as organizations
from fedicity.organizations.service import Env
from fedicity.settings import Settings
from fedicity.territories.service import prepare_serving
from fedicity.urls import Urls
from tests.conftest import FixedKeys
from tests.territory_helpers import import_slice
from tests.test_e2e_http import _free_port, _serving
from tests.web.test_social_feedback import citizen

# Examples per operation and mode: 15 operations, 10 of them in both modes; about 17 s here.
EXAMPLES = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    """An instance serving Seine-Saint-Denis on a free local port."""
    port = _free_port()
    return dataclasses.replace(
        settings,
        base_url=f"http://127.0.0.1:{port}",
        listen=f"127.0.0.1:{port}",
        territory_level="departement",
        territory_code="93",
    )


def _fuzz(base_url: str, token: str, known: dict[str, str]) -> list[str]:
    """Run every operation in both modes; the failures, in words."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"the document does not read: {result.err()}")
            continue
        operation = result.ok()
        # A path's strings are all valid: only a query or a body can be made invalid.
        negatable = len(operation.query) > 0 or len(operation.body) > 0
        modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if negatable else ()
        for mode in modes or (GenerationMode.POSITIVE,):
            # Positive cases reach what exists (the seeded event, organisation, territory);
            # negative ones get generated paths as well.
            fixed = {
                name: value
                for name, value in known.items()
                if f"{{{name}}}" in operation.path and mode is GenerationMode.POSITIVE
            }

            @hypothesis_settings(
                max_examples=EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed or None))
            def run(case: Any) -> None:
                case.call_and_validate(
                    base_url=base_url,
                    headers={"Authorization": f"Bearer {token}"},
                    checks=CHECKS,
                    timeout=10,
                )

            try:
                run()
            except Exception as error:  # noqa: BLE001 - every failure is reported, none hidden
                failures.append(f"{operation.label} ({mode.value}): {error}")
    return failures


async def test_schemathesis_finds_no_5xx_and_no_undeclared_answer(
    api_settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> None:
    # Given a seeded instance: a citizen with a token, her organisation, an event and a note
    await import_slice(pool, tmp_path)
    assert await prepare_serving(pool, api_settings) is not None
    camille = await citizen(pool, keygen, "camille", "Camille Martin")
    urls = Urls(api_settings.base_url)
    async with pool.acquire() as conn:
        account_id = await conn.fetchval("SELECT id FROM accounts WHERE actor_id = $1", camille.id)
        token = await api_tokens.create(conn, account_id, "schemathesis", now=clock.now())
        await organizations.create(
            conn,
            creator=camille,
            username="velo",
            organization_kind="association",
            keygen=keygen,
            env=Env(urls=urls, clock=clock),
        )
    async with _serving(api_settings, pool, clock, keygen) as base_url:
        async with httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}
        ) as http:
            created = await http.post(
                "/api/v1/events",
                json={
                    "title": "Atelier vélo",
                    "startsAt": "2030-05-01T10:00:00Z",
                    "placeName": "Mairie",
                    "territory": "commune:93048",
                    "tags": ["velo"],
                },
            )
            assert created.status_code == 201, created.text
            note = await http.post(
                "/api/v1/notes", json={"text": "Bonjour #velo", "territory": "commune:93048"}
            )
            assert note.status_code == 201, note.text
        known = {
            "token": created.json()["token"],
            "username": "velo",
            "level": "commune",
            "code": "93048",
        }
        # When schemathesis runs every documented operation against it
        failures = await asyncio.to_thread(_fuzz, base_url, token, known)
    # Then nothing failed
    assert failures == [], "\n\n".join(failures)
