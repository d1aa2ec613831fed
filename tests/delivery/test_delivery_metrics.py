"""Each delivery attempt is counted by its result in fedicity_deliveries_total, against real
inboxes on 127.0.0.1."""

from __future__ import annotations

from prometheus_client import REGISTRY

from fedicity.activitypub.fetch.poster import DeliveryClient
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.workers.delivery import deliver_batch
from tests.conftest import FixedKeys
from tests.delivery.test_delivery import (  # noqa: F401 -- servers and http are fixtures
    URLS,
    ServerFactory,
    _deliver,
    _publish,
    _recipient,
    _sender,
    http,
    servers,
)

RESULTS = ("delivered", "retry", "gave_up", "refused", "postponed", "error")


def _counts() -> dict[str, float]:
    return {
        result: REGISTRY.get_sample_value("fedicity_deliveries_total", {"result": result}) or 0.0
        for result in RESULTS
    }


def _moved(before: dict[str, float]) -> dict[str, float]:
    after = _counts()
    return {result: after[result] - before[result] for result in RESULTS if after != before}


async def test_every_result_is_counted(
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
    servers: ServerFactory,  # noqa: F811
    http: DeliveryClient,  # noqa: F811
) -> None:
    # Given recipients whose servers accept, fail (500) and refuse for good (400)
    sender = await _sender(pool, keygen)
    answers = {}
    for mode in ("accept", "error", "bad"):
        target = await servers(mode=mode)
        answers[mode] = await _recipient(pool, target.base, mode, clock)
    await _publish(pool, sender, clock, to=list(answers.values()))

    # When the worker delivers
    before = _counts()
    assert await _deliver(pool, http, clock) == 3

    # Then one each is delivered, to be retried, and given up
    assert _moved(before) == {
        "delivered": 1,
        "retry": 1,
        "gave_up": 1,
        "refused": 0,
        "postponed": 0,
        "error": 0,
    }

    # When, in allowlist mode, a new activity is due to an unlisted domain
    refused_target = await servers(mode="accept")
    unlisted = await _recipient(pool, refused_target.base, "other", clock)
    await _publish(pool, sender, clock, to=[unlisted])
    before = _counts()
    claimed = await deliver_batch(pool, http, urls=URLS, clock=clock, allowlist_mode=True)

    # Then it is counted as refused, never sent
    assert claimed == 1
    assert _moved(before)["refused"] == 1
    assert refused_target.received == []
