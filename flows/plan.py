"""Dry run: the planner's answer as an artifact, with no side effects."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from nahtlos.plan_models import ReleasePlan
from nahtlos.release.outcome import plan_markdown
from tasks.connections import Target
from tasks.planning import analyze_dependencies, application_at_live_versions, read_live_state


@flow(name="plan", flow_run_name="plan {application}")
def plan(application: str, targets: dict[str, str], catalog: str = "default",
         platform: str = "nahtlos-local-platform/default") -> ReleasePlan:
    """What a release of ``targets`` would do, against the versions that run now."""
    target = Target(application=application, catalog=catalog, platform=platform, session_store=None)
    app = application_at_live_versions(target, read_live_state(target))
    result = analyze_dependencies(app, targets)
    create_markdown_artifact(key=f"{application}-plan", markdown=plan_markdown(result),
                             description="dry run: the release plan")
    return result
