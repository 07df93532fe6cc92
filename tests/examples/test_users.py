"""The synthetic-users engine (``nahtlos/load.py``) with the Buergerservice journey, against real processes."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis.asyncio as aioredis
from pydantic import ValidationError

from examples.buergerservice.users import WORDS, BuergerserviceJourney
from nahtlos.load import LoadConfig, Outcome, SyntheticUsers, VirtualUser
from nahtlos.sessions.redis_server import free_port


class CheckingOften(BuergerserviceJourney):
    verify_every = 2
    session_steps = (10_000, 10_000)  # one session per user: the counts below are exact


class ComingAndGoing(BuergerserviceJourney):
    session_steps = (3, 5)


class PayingOnly(BuergerserviceJourney):
    actions = ((BuergerserviceJourney.fees, 1), (BuergerserviceJourney.pay, 1))


def run(config: LoadConfig, journey, *sabotage) -> object:
    async def main():
        engine = SyntheticUsers(config, journey=journey)
        results = await asyncio.gather(engine.run(), *(s() for s in sabotage))
        return results[0]
    return asyncio.run(main())


def failures_other_than(report, *allowed: Outcome) -> dict[Outcome, int]:
    return {o: n for o, n in report.counts.items() if n and o is not Outcome.OK and o not in allowed}


def test_users_log_in_fill_drafts_and_read_them_back_without_a_single_failure(stack):
    config = LoadConfig(base_url=stack.url("gateway"), users=20, rate=150, max_requests=450, duration_seconds=30)
    report = run(config, CheckingOften)
    assert report.requests_total == 450 and report.requests_failed == 0, report.failures
    assert report.sessions_total == 20 and report.sessions_lost == 0
    assert report.drafts_verified > 20 and report.drafts_lost == 0
    assert report.versions == {"gateway/1.8.0": 450}
    assert 0 < report.latency.p50_ms <= report.latency.p99_ms <= report.latency.max_ms


def test_users_who_log_out_and_in_again_are_new_sessions_not_lost_ones(stack):
    config = LoadConfig(base_url=stack.url("gateway"), users=5, rate=60, max_requests=200, duration_seconds=30)
    report = run(config, ComingAndGoing)
    assert report.requests_failed == 0 and report.sessions_lost == 0, report.failures
    assert report.sessions_total > 10  # every user came back several times


def test_deleted_session_keys_are_counted_as_lost_sessions_and_the_users_log_in_again(stack):
    config = LoadConfig(base_url=stack.url("gateway"), users=5, rate=40, duration_seconds=3.0)
    store = aioredis.Redis.from_url(stack.redis_url)
    deleted: list[bytes] = []

    async def delete_the_sessions() -> None:
        await asyncio.sleep(1.0)  # 40 requests: everybody is logged in
        keys = [k async for k in store.scan_iter("session:*") if k not in deleted]
        deleted.extend(keys)
        await store.delete(*keys)
        await store.aclose()

    report = run(config, CheckingOften, delete_the_sessions)
    assert report.sessions_lost == 5 and report.counts[Outcome.SESSION_LOST] == 5
    assert report.sessions_total == 10  # each user logged in once more
    assert failures_other_than(report, Outcome.SESSION_LOST) == {}
    text = report.model_dump_json()
    assert not any(key.decode().removeprefix("session:") in text for key in deleted)


def test_an_altered_draft_is_counted_as_lost_while_the_session_survives(stack):
    config = LoadConfig(base_url=stack.url("gateway"), users=5, rate=50, duration_seconds=4.0, seed=7)
    store = aioredis.Redis.from_url(stack.redis_url)
    altered = 0

    async def alter_the_drafts() -> None:
        nonlocal altered
        await asyncio.sleep(1.5)
        async for key in store.scan_iter("session:*"):
            record = json.loads(await store.get(key) or "null")
            if record and record["drafts"]:
                for draft in record["drafts"].values():
                    draft["fields"] = {name: value + " (altered)" for name, value in draft["fields"].items()}
                await store.set(key, json.dumps(record), keepttl=True)
                altered += 1
        await store.aclose()

    report = run(config, CheckingOften, alter_the_drafts)
    assert altered >= 1
    assert 1 <= report.drafts_lost and report.counts[Outcome.DRAFT_LOST] == report.drafts_lost
    assert report.sessions_lost == 0
    assert failures_other_than(report, Outcome.DRAFT_LOST) == {}
    assert "(altered)" not in report.model_dump_json() and not any(w in report.model_dump_json() for w in WORDS)


def test_5xx_answers_of_payments_3_1_0_are_counted_as_such(stack):
    config = LoadConfig(base_url=stack.url("gateway", use={"payments": "3.1.0"}), users=10, rate=150,
                        max_requests=400, duration_seconds=30)
    report = run(config, PayingOnly)
    assert report.counts[Outcome.ERROR_5XX] >= 8  # 10 % of ~390 payment requests
    assert failures_other_than(report, Outcome.ERROR_5XX) == {}
    assert {f.path for f in report.failures} <= {"/api/payments/fees", "/api/payments"}
    assert report.first_failure_at is not None and report.first_failure_at <= report.last_failure_at


class Probe:
    """A minimal journey for the generic engine: one kind of request, no session."""

    path, expect = "/healthz", (200,)

    def __init__(self, user: VirtualUser) -> None:
        pass

    async def step(self, user: VirtualUser) -> None:
        await user.request("GET", self.path, expect=self.expect, authenticated=False)


class UnexpectedStatus(Probe):
    path = "/api/citizens/x"  # too short an id: 404


def test_unexpected_statuses_connection_errors_and_timeouts_are_told_apart(stack):
    registry = stack.url("registry")
    unexpected = run(LoadConfig(base_url=registry, users=2, rate=100, max_requests=10), UnexpectedStatus)
    assert unexpected.counts[Outcome.ERROR_4XX] == 10
    refused = run(LoadConfig(base_url=f"http://127.0.0.1:{free_port()}", users=2, rate=100, max_requests=6), Probe)
    assert refused.counts[Outcome.CONNECTION_ERROR] == 6
    slow = stack.url("registry", env={"BS_EXTRA_LATENCY_MS": "1500"})

    class SlowPath(Probe):
        path = "/api/citizens/buerger00001"

    timed_out = run(LoadConfig(base_url=slow, users=3, rate=100, max_requests=3, timeout_seconds=0.3), SlowPath)
    assert timed_out.counts[Outcome.TIMEOUT] == 3


def test_the_total_request_rate_is_paced_across_users(stack):
    report = run(LoadConfig(base_url=stack.url("registry"), users=10, rate=40, max_requests=60), Probe)
    assert report.requests_total == 60 and report.requests_failed == 0
    assert report.duration_seconds >= 59 / 40 * 0.95
    assert report.rate_achieved <= 40 * 1.1


@pytest.mark.parametrize("bad", [
    {"base_url": "http://10.0.0.1:8080"},
    {"base_url": "http://example.org"},
    {"base_url": "ftp://127.0.0.1"},
    {"base_url": "http://127.0.0.1:8080", "duration_seconds": None},
    {"base_url": "http://127.0.0.1:8080", "rate": 0},
])
def test_configurations_that_leave_loopback_or_never_stop_are_refused(bad):
    with pytest.raises(ValidationError):
        LoadConfig(**bad)


class ExpectsJson(Probe):
    path = "/login"  # an HTML page where the journey wants JSON

    async def step(self, user: VirtualUser) -> None:
        reply = await user.request("GET", self.path, authenticated=False)
        reply.json()


def test_an_answer_the_journey_cannot_read_counts_as_unexpected_and_the_run_goes_on(stack):
    report = run(LoadConfig(base_url=stack.url("gateway"), users=2, rate=100, max_requests=8), ExpectsJson)
    assert report.requests_total == 8 and report.counts[Outcome.ERROR_4XX] == 8
