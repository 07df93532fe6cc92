"""Triggered by ``nahtlos.release.rolled-back``: tell the operators, without waking anyone up.

Writes a short report artifact and emits ``nahtlos.notification.rolled-back``,
which a notification block (e-mail, chat) can subscribe to. The event payload
holds versions and the reason only.
"""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.events import emit_event


@flow(name="notify-rollback", flow_run_name="notify: {application} rolled back")
def notify_rollback(application: str, reason: str = "", targets: dict[str, str] | None = None) -> str:
    versions = ", ".join(f"{m} {v}" for m, v in sorted((targets or {}).items())) or "-"
    text = (f"# {application}: release rolled back\n\nTargets: {versions}\n\nReason: {reason or 'see the run'}\n\n"
            "Users stayed on the stable versions; nothing needs to be done tonight.")
    create_markdown_artifact(key=f"{application}-rollback-notice", markdown=text,
                             description="rollback notice")
    emit_event(event="nahtlos.notification.rolled-back",
               resource={"prefect.resource.id": f"nahtlos.application.{application}",
                         "prefect.resource.name": application},
               payload={"reason": reason, "targets": targets or {}})
    return text
