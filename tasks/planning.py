"""Tasks that read the live state and plan: no side effects."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from nahtlos.descriptor import Application
from nahtlos.errors import is_transient
from nahtlos.plan_models import ReleasePlan
from nahtlos.planning import plan_release
from nahtlos.release.live import LiveModule, at_live_versions, live_state
from tasks.connections import Target, connect


@task(name="read live state", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=2,
      retry_condition_fn=lambda t, r, s: _transient(s))
def read_live_state(target: Target) -> dict[str, LiveModule]:
    c = connect(target)
    return live_state(c.platform, c.app)


@task(name="descriptor at live versions", cache_policy=NO_CACHE)
def application_at_live_versions(target: Target, live: dict[str, LiveModule]) -> Application:
    c = connect(target)
    return connect(target, app=at_live_versions(c.app, live)).app


@task(name="analyze dependencies", cache_policy=NO_CACHE)
def analyze_dependencies(app: Application, targets: dict[str, str]) -> ReleasePlan:
    return plan_release(app, targets)


def _transient(state) -> bool:
    """Prefect retry condition: retry only errors that declare themselves transient."""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - we only classify
        return is_transient(exc)
    return False
