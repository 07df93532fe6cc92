"""Session probes end to end: the sessionapp (own session store) on the local platform, real Prefect server.

The release-flow tests need ``flows/module.py`` to call ``tasks.probes`` (the lead wires it):
until then they are skipped, and the task tests below run the same gates in a small flow.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from prefect import flow

import flows.module
from flows.release import release
from nahtlos.errors import GateFailed
from nahtlos.loader import load_application
from nahtlos.platforms.local.client import LocalPlatform
from tasks.connections import Target
from tasks.probes import prove_canary_sessions, prove_session_continuity
from tests.flows.test_release_flow import weight_tasks
from tests.flows.traffic import Traffic

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DESCRIPTOR = Path(__file__).parents[1] / "apps" / "sessionapp.yaml"
WIRED = hasattr(flows.module, "prove_session_continuity")
needs_wiring = pytest.mark.skipif(not WIRED, reason="flows/module.py does not call tasks.probes yet (lead)")
USERS = 10


@dataclass
class Deployed:
    platform: LocalPlatform
    params: dict  # flow parameters naming the saved blocks
    target: Target

    def entry(self, path: str = "/") -> str:
        return self.platform.status().entry_address.rstrip("/") + path

    def versions(self) -> dict[str, int]:
        return dict(self.platform.traffic(module="web").configured)

    def pinned(self) -> dict[str, int]:
        return {v: s.pinned_sessions for v, s in self.platform.status().modules["web"].versions.items()}


@pytest.fixture
def sessionapp(prefect_server, tmp_path) -> Deployed:
    from blocks import ApplicationCatalog, LocalPlatformConfig

    catalog = tmp_path / "catalog"
    catalog.mkdir()
    shutil.copy(DESCRIPTOR, catalog / "sessionapp.yaml")
    name = uuid.uuid4().hex[:8]
    platform = LocalPlatform.up(load_application(catalog / "sessionapp.yaml"), state_dir=tmp_path / "platform")
    ApplicationCatalog(directory=str(catalog)).save(name, overwrite=True)
    LocalPlatformConfig(state_dir=str(tmp_path / "platform")).save(name, overwrite=True)
    params = dict(catalog=name, platform=f"nahtlos-local-platform/{name}", session_store=None)
    try:
        yield Deployed(platform=platform, params=params, target=Target(application="sessionapp", **params))
    finally:
        platform.down()


class Users:
    """Real logged-in users through the public entry, each with a note; pinned to the version that served them."""

    def __init__(self, deployed: Deployed, count: int = USERS) -> None:
        self.clients = [httpx.Client(base_url=deployed.entry(), timeout=10) for _ in range(count)]
        for number, client in enumerate(self.clients):
            assert client.post("/login", data={"user": f"citizen-{number}", "password": "pw"}).status_code == 303
            assert client.post("/notes", data={"text": f"draft {number}"}).status_code == 201

    def intact(self) -> int:
        """Users whose session is recognised with their note (through the entry, as in the browser)."""
        found = 0
        for number, client in enumerate(self.clients):
            answer = client.get("/account")
            found += answer.status_code == 200 and answer.json()["notes"][0]["text"] == f"draft {number}"
        return found

    def close(self) -> None:
        for client in self.clients:
            client.close()


@pytest.fixture
def users(sessionapp) -> Iterator[Users]:
    logged_in = Users(sessionapp)
    yield logged_in
    logged_in.close()


def release_under_load(deployed: Deployed, version: str):
    """Release ``web`` to ``version`` while anonymous visitors load the entry; (final state, load)."""
    load = Traffic(deployed.entry("/"), rate=50).start()
    try:
        state = release(application="sessionapp", targets={"web": version}, **deployed.params, return_state=True)
    finally:
        load.stop()
    return state, load


def artifact(key: str) -> str:
    from prefect.artifacts import Artifact

    found = Artifact.get(key)
    assert found is not None, f"no artifact {key}"
    return found.data


@needs_wiring
def test_a_release_that_no_longer_recognises_sessions_is_refused_before_any_user_is_moved(sessionapp, users):
    assert sessionapp.pinned() == {"1.0.0": USERS}
    started = datetime.now(timezone.utc)
    state, load = release_under_load(sessionapp, "2.0.0")
    assert state.name == "RolledBack", state.message
    assert "session probes failed" in state.message
    assert "2.0.0: 0/20 recognised (20 redirect-to-login at 'read-account')" in state.message
    assert sessionapp.versions() == {"1.0.0": 100}
    assert "2.0.0" not in sessionapp.platform.status().modules["web"].versions
    assert weight_tasks("web", since=started) == []  # the canary never had any weight
    assert sessionapp.pinned() == {"1.0.0": USERS} and users.intact() == USERS
    assert load.failed == 0 and load.counts["ok"] > 0, load.counts
    report = artifact("sessionapp-web-probes-stable")
    assert "FAILED" in report and "| replay | 2.0.0 | 0/20 | 20 redirect-to-login | 20 303 | read-account |" in report


@needs_wiring
def test_a_compatible_release_promotes_and_every_logged_in_user_keeps_session_and_data(sessionapp, users):
    state, load = release_under_load(sessionapp, "1.1.0")
    assert state.name == "Promoted", state.message
    assert sessionapp.versions() == {"1.1.0": 100}
    assert users.intact() == USERS  # 0 sessions lost: moved to 1.1.0 with their notes
    assert sessionapp.pinned() == {"1.1.0": USERS}
    assert load.failed == 0, load.counts
    assert "| replay | 1.1.0 | 20/20 | - | - | - |" in artifact("sessionapp-web-probes-stable")
    assert "| replay | 1.0.0 | 20/20 |" in artifact("sessionapp-web-probes-canary")


@needs_wiring
def test_a_canary_whose_new_sessions_the_stable_version_cannot_read_does_not_promote(sessionapp, users):
    started = datetime.now(timezone.utc)
    state, load = release_under_load(sessionapp, "1.2.0")
    assert state.name == "RolledBack", state.message
    assert "1.0.0: 0/20 recognised (20 redirect-to-login" in state.message
    assert sessionapp.versions() == {"1.0.0": 100} and users.intact() == USERS
    assert weight_tasks("web", since=started) == []  # proven before the first weight: no user ever started on it
    assert load.failed == 0, load.counts


@flow(name="probe gates")
def probe_gates(target: Target, stable: str, version: str):
    """The two gates as the module sub-flow runs them, on a canary deployed at weight 0."""
    first = prove_session_continuity(target, "web", stable, version)
    return first, prove_canary_sessions(target, "web", stable, version)


def test_the_probe_tasks_pass_a_compatible_canary_and_report_counts(sessionapp):
    sessionapp.platform.deploy(module="web", version="1.1.0")
    continuity, canary_sessions = probe_gates(sessionapp.target, "1.0.0", "1.1.0")
    assert continuity.ok and canary_sessions.ok
    assert [(r.version, r.recognised) for r in continuity.replays] == [("1.1.0", 20), ("1.0.0", 20)]
    assert [(r.version, r.recognised) for r in canary_sessions.replays] == [("1.0.0", 20), ("1.1.0", 20)]
    assert continuity.created.version == "1.0.0" and canary_sessions.created.version == "1.1.0"
    assert "| create | 1.0.0 | 20/20 |" in artifact("sessionapp-web-probes-stable")


def test_the_probe_task_fails_the_gate_for_an_incompatible_canary_without_moving_anyone(sessionapp, users):
    sessionapp.platform.deploy(module="web", version="2.1.0")
    state = probe_gates(sessionapp.target, "1.0.0", "2.1.0", return_state=True)
    assert state.is_failed()
    with pytest.raises(GateFailed) as failed:
        state.result()
    message = str(failed.value)
    assert "2.1.0: 0/20 recognised (20 redirect-to-login at 'read-account')" in message
    assert "1.0.0: 0/20 recognised" in message  # 2.1.0 deleted the sessions it could not read
    assert "40 failure(s)" in message
    assert sessionapp.versions() == {"1.0.0": 100, "2.1.0": 0}
    assert sessionapp.pinned() == {"1.0.0": USERS, "2.1.0": 0} and users.intact() == USERS
    report = artifact("sessionapp-web-probes-stable")
    assert "| replay | 2.1.0 | 0/20 | 20 redirect-to-login | 20 303 | read-account |" in report
