"""Events a release emits, with the application and its modules as resources (no session data)."""

from __future__ import annotations

from prefect.events import emit_event

from nahtlos.release.outcome import Outcome, ReleaseSummary

EVENTS = {Outcome.PROMOTED: "nahtlos.release.promoted", Outcome.ROLLED_BACK: "nahtlos.release.rolled-back",
          Outcome.REFUSED: "nahtlos.release.refused", Outcome.FAILED: "nahtlos.release.failed"}


def announce(summary: ReleaseSummary) -> None:
    emit_event(
        event=EVENTS[summary.outcome],
        resource={"prefect.resource.id": f"nahtlos.application.{summary.application}",
                  "prefect.resource.name": summary.application},
        related=[{"prefect.resource.id": f"nahtlos.module.{summary.application}.{module}",
                  "prefect.resource.role": "module", "prefect.resource.name": module}
                 for module in sorted(summary.targets)],
        payload={"outcome": summary.outcome.value, "reason": summary.reason, "targets": summary.targets,
                 "seconds": summary.seconds, "waves": len(summary.waves)},
    )
