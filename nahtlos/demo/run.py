"""One demo run: start the stack, put logged-in users on it, release through Prefect, report.

    report = run_demo(DemoOptions(scenario="release"))

Scenarios: ``release`` moves five modules to their next versions (three
waves, a session-format change in the gateway); ``broken-canary`` releases
payments 3.1.0, which must be rolled back. The report counts what the users
saw; the target is zero failed requests, sessions lost and drafts lost.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, ConfigDict

from nahtlos.demo.stack import Stack
from nahtlos.load import LoadConfig, LoadReport, SyntheticUsers
from nahtlos.loader import load_application
from nahtlos.prefect_api import PrefectApi, outcome_of

SCENARIOS = {
    "release": {"registry": "2.1.0", "forms": "2.0.0", "gateway": "2.0.0", "portal": "1.3.0",
                "appointments": "1.3.0"},
    "broken-canary": {"payments": "3.1.0"},
}
RUN_MARK = "NAHTLOS_DEMO_RUN"
WARM_UP_SECONDS = 5.0  # users log in and start typing before the release begins
COOL_DOWN_SECONDS = 3.0  # and keep going a little after it ends


class DemoOptions(BaseModel):
    model_config = ConfigDict(frozen=True)

    scenario: str = "release"
    descriptor: Path = Path("deployments/buergerservice.yaml")
    users: int = 150
    rate: float = 100.0
    workdir: Path = Path(".nahtlos/demo")
    timeout: float = 600.0
    strategy: dict | None = None  # a strategy override for the release (benchmarks bake longer)
    min_load_seconds: float = 0.0  # keep the users going at least this long (benchmarks count requests)


class DemoReport(BaseModel):
    scenario: str
    outcome: str  # promoted | rolled_back | refused | failed
    message: str
    requests_total: int
    requests_failed: int
    sessions_total: int
    sessions_lost: int
    drafts_lost: int
    drafts_verified: int
    release_seconds: float
    rollback_seconds: float | None
    flow_run_url: str
    failures_by_class: dict[str, int]
    latency_p99_ms: float


def run_demo(options: DemoOptions, *, say: Callable[[str], None] = print) -> DemoReport:
    if options.scenario not in SCENARIOS:
        from nahtlos.errors import InvalidInput

        raise InvalidInput(f"unknown scenario {options.scenario!r}", hint=f"one of {', '.join(SCENARIOS)}")
    app = load_application(options.descriptor)
    if options.workdir.exists():
        shutil.rmtree(options.workdir)
    options.workdir.mkdir(parents=True)
    # Every process of this run inherits the mark, so anyone can check that none outlives it.
    os.environ[RUN_MARK] = str(options.workdir.resolve())
    with Stack(options.workdir.resolve(), say=say) as stack:
        say("starting Redis, the Prefect server and the local platform ...")
        redis_url = stack.start_redis()
        stack.start_prefect()
        platform = stack.start_platform(app, redis_url=redis_url)
        stack.start_runner(catalog=options.descriptor.parent.resolve(), redis_url=redis_url)
        entry = platform.status().entry_address
        say(f"Buergerservice runs at {entry} ; Prefect UI at {stack.api_url[:-4]}")
        users = _Users(LoadConfig(base_url=entry, users=options.users, rate=options.rate,
                                  duration_seconds=options.timeout + 60))
        users.start()
        time.sleep(WARM_UP_SECONDS)
        say(f"{options.users} citizens are logged in and filling in forms; releasing "
            + ", ".join(f"{m} {v}" for m, v in SCENARIOS[options.scenario].items()))
        run, final, seconds = _release(stack.api_url, app.name, SCENARIOS[options.scenario], options, say)
        time.sleep(max(COOL_DOWN_SECONDS, options.min_load_seconds - WARM_UP_SECONDS - seconds))
        load = users.finish()
        outcome, _ = outcome_of(final)
        rows = _module_rows(stack.api_url, run["id"], app.name)
    return _report(options.scenario, outcome, final, load, seconds, rows, PrefectApi(stack.api_url).ui_url(run["id"]))


def _release(api_url: str, application: str, targets: dict[str, str], options: DemoOptions,
             say: Callable[[str], None]) -> tuple[dict, dict, float]:
    api = PrefectApi(api_url)
    try:
        started = time.monotonic()
        parameters = {"application": application, "targets": targets}
        if options.strategy:
            parameters["strategy"] = options.strategy
        run = api.start("release", "on-demand", parameters, tags=["demo"])
        say(f"release running: {api.ui_url(run['id'])}")
        final = api.wait(run["id"], poll=1.0, timeout=options.timeout,
                         on_change=lambda r: say(f"  {time.monotonic() - started:5.1f} s  {r['state']['name']}"))
        return run, final, time.monotonic() - started
    finally:
        api.close()


def _module_rows(api_url: str, run_id: str, application: str) -> list[dict]:
    api = PrefectApi(api_url)
    try:
        found = api._call("POST", "/artifacts/filter", json={
            "artifacts": {"key": {"any_": [f"{application}-modules"]}, "flow_run_id": {"any_": [run_id]}}})
    finally:
        api.close()
    return json.loads(found[0]["data"]) if found else []


def _report(scenario: str, outcome: str, final: dict, load: LoadReport, seconds: float, rows: list[dict],
            url: str) -> DemoReport:
    failed = [r for r in rows if r.get("first_failure_at") and r.get("rolled_back_at")]
    rollback = None
    if outcome == "rolled_back" and failed:
        first_bad = min(r["first_failure_at"] for r in failed)
        if load.first_failure_at:  # a user saw it before the flow did
            first_bad = min(first_bad, load.first_failure_at)
        rollback = round(max(r["rolled_back_at"] for r in failed) - first_bad, 3)
    return DemoReport(
        scenario=scenario, outcome=outcome, message=(final.get("state") or {}).get("message") or "",
        requests_total=load.requests_total, requests_failed=load.requests_failed, sessions_total=load.sessions_total,
        sessions_lost=load.sessions_lost, drafts_lost=load.drafts_lost, drafts_verified=load.drafts_verified,
        release_seconds=round(seconds, 3), rollback_seconds=rollback, flow_run_url=url,
        failures_by_class={k.value: v for k, v in load.counts.items() if k.value != "ok" and v},
        latency_p99_ms=load.latency.p99_ms)


class _Users:
    """Synthetic users on their own event loop thread, so the demo can poll Prefect meanwhile."""

    def __init__(self, config: LoadConfig) -> None:
        from examples.buergerservice.users import BuergerserviceJourney

        self.engine = SyntheticUsers(config, journey=BuergerserviceJourney)
        self.report: LoadReport | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="synthetic-users", daemon=True)

    def start(self) -> None:
        self.thread.start()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.report = await self.engine.run()

    def finish(self) -> LoadReport:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.engine.stop)
        self.thread.join(timeout=60)
        return self.report or self.engine.snapshot()
