"""A `pause` step waits for an operator's decision in the Prefect UI (here: through the same API)."""

from __future__ import annotations

import contextvars
import threading
import time

import pytest

from flows.release import release

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WITH_APPROVAL = {"steps": [{"set_weight": 20}, {"pause": {"timeout": 120}}, {"set_weight": 100}]}


def answer_when_paused(decision: dict, seen: list) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.flow_runs import resume_flow_run

    deadline = time.monotonic() + 120
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            paused = client.read_flow_runs(flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))))
            if paused:
                seen.append(paused[0].name)
                resume_flow_run(paused[0].id, run_input=decision)
                return
            time.sleep(0.5)


@pytest.mark.parametrize("decision, outcome, back", [
    ({"approve": True}, "Promoted", {"1.1.0": 100}),
    ({"approve": False, "comment": "not tonight"}, "RolledBack", {"1.0.0": 100}),
])
def test_an_operator_approves_or_declines_a_paused_canary(shop, decision, outcome, back):
    seen: list = []
    operator = threading.Thread(target=contextvars.copy_context().run, args=(answer_when_paused, decision, seen))
    operator.start()
    state = release(application="shop", targets={"back": "1.1.0"}, strategy=WITH_APPROVAL, **shop.params,
                    return_state=True)
    operator.join(timeout=10)
    assert seen == ["back 1.0.0 -> 1.1.0"]
    assert state.name == outcome, state.message
    assert shop.versions("back") == back
    if outcome == "RolledBack":
        assert "declined" in state.message and "not tonight" in state.message
