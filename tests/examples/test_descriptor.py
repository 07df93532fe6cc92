"""The Buergerservice sections of ``deployments/buergerservice.yaml`` work with the real modules."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from nahtlos.platforms.local.spec import Placeholders, process_command, process_environment
from nahtlos.sessions.redis_server import free_port
from nahtlos.smoke import run_smoke
from examples.buergerservice.stack import ROOT, ModuleProcess

NEXT_WIRING = {"forms": {"registry": "2.1.0"}, "gateway": {"forms": "2.0.0", "registry": "2.1.0"}}


def every_version(stack) -> list[tuple[str, str]]:
    return [(m, v) for m, module in stack.app.modules.items() for v in module.versions]


@pytest.mark.slow
def test_the_smoke_checks_of_every_module_pass_against_each_of_its_versions(stack):
    for module, version in every_version(stack):
        if (module, version) == ("payments", "3.1.0"):
            continue  # broken by design: see the next test
        use = NEXT_WIRING.get(module, {}) if version != stack.app.modules[module].deployed else {}
        url = stack.url(module, version, use=use)
        report = run_smoke(checks=stack.app.modules[module].smoke, base_url=url, target=f"{module} {version}")
        assert report.ok, (module, version, report.failure_classes, [r.message for r in report.results if not r.ok])


def test_the_smoke_checks_catch_the_defect_of_payments_3_1_0_every_time(stack):
    url = stack.url("payments", "3.1.0", env={"BS_ERROR_RATE": "0"})  # the fee-table defect alone
    report = run_smoke(checks=stack.app.modules["payments"].smoke, base_url=url, target="payments 3.1.0")
    assert report.failed == 1 and report.failure_classes == {"5xx": 1}  # readiness still passes


def test_the_run_local_command_of_the_descriptor_starts_a_module(stack, tmp_path):
    spec = stack.app.modules["registry"].run.local
    values = Placeholders(port=free_port(), version="2.1.0", module="registry", app=stack.app.name,
                          python=sys.executable, state_dir=str(tmp_path), service_urls={},
                          environ={**stack.base_env(), "REDIS_URL": stack.redis_url})
    started = ModuleProcess("registry", "2.1.0", values.port, tmp_path / "registry.log",
                            env=process_environment(spec, values))
    started.process = subprocess.Popen(process_command(spec, values), cwd=ROOT, env=started.env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        started.wait_ready(spec.ready_timeout)
        assert httpx.get(started.url + spec.ready).json()["version"] == "2.1.0"
    finally:
        assert started.stop(spec.stop_grace) is not None


def test_the_sessions_section_names_this_application_s_migration_and_control_key(stack):
    from examples.buergerservice.sessions import migrate
    from nahtlos.sessions.config import SessionsConfig

    sessions: SessionsConfig = stack.app.sessions
    module, _, name = sessions.migrations.python.partition(":")
    assert getattr(__import__(module, fromlist=[name]), name) is migrate
    assert sessions.format_key == f"nahtlos:session-format:{stack.app.name}"
    assert stack.app.routing.session_cookie == "bs_session"


def test_the_proposed_journey_keeps_its_session_and_draft_from_gateway_1_8_to_2_0(stack):
    import yaml

    from nahtlos.smoke import Journey, JourneyRun

    proposal = yaml.safe_load((ROOT / "examples" / "buergerservice" / "descriptor-sections.yaml").read_text())
    journey = Journey.model_validate(proposal["journeys"]["draft-survives"])
    old = stack.url("gateway", "1.8.0", use={"portal": "1.3.0"})
    new = stack.url("gateway", "2.0.0", use={"forms": "2.0.0", "registry": "2.1.0", "portal": "1.3.0"})
    with JourneyRun(journey, name="draft-survives", base_url=old, target="gateway 1.8.0") as run:
        assert run.run_to_checkpoint().paused_at == "save-draft"
        report = run.resume(base_url=new, target="gateway 2.0.0")
    assert report.finished, report.failure_classes
