"""Return an application to its last promoted state.

Without ``to``: every canary in progress is rolled back (traffic to stable
first, then the canary removed). With ``to`` (module -> version): those
versions are released again through the planner, so the order and the session
formats (down-migrations included) are as safe as for any release.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import Completed

from flows.locking import one_release_at_a_time
from flows.release import BACK_AT_ONCE, run_release
from tasks.connections import Target
from tasks.planning import read_live_state
from tasks.reconcile import roll_back_leftovers



@flow(name="rollback", flow_run_name="rollback {application}")
def rollback(application: str, to: dict[str, str] | None = None, catalog: str = "default",
             platform: str = "nahtlos-local-platform/default", session_store: str | None = "default",
             wait_for_other_release: float = 60.0):
    target = Target(application=application, catalog=catalog, platform=platform, session_store=session_store)
    with one_release_at_a_time(application, wait_seconds=wait_for_other_release):
        undone = roll_back_leftovers(target, read_live_state(target), {})
        if to:
            return run_release(target, to, BACK_AT_ONCE)
    return Completed(message=f"rolled back {len(undone)} canar{'y' if len(undone) == 1 else 'ies'}",
                     name="RolledBack")
