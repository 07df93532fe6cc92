"""The session handoff around one wave, composed from ``nahtlos.sessions``.

Before any traffic reaches a wave's canaries: every version is told the common
format to write (from the plan), and every live session is checked readable by
each new version. After the wave is promoted and the old versions are gone:
a snapshot, the move to the format the plan stores after the wave, the bulk
migration, and the verification that nothing was lost or changed. Until then
the store stays in a format the old versions read, so a rollback loses nothing.
"""

from __future__ import annotations

from nahtlos.descriptor import Application, Frozen
from nahtlos.errors import HandoffBlocked
from nahtlos.plan_models import SessionStep
from nahtlos.sessions.config import SessionsConfig
from nahtlos.sessions.formats import set_write_format
from nahtlos.sessions.migrate import migrate_all, restore_for_rollback
from nahtlos.sessions.models import FormatChange, MigrationReport, PreflightReport, VerifyReport
from nahtlos.sessions.preflight import preflight
from nahtlos.sessions.providers import MigrationProvider
from nahtlos.sessions.store import SessionStore
from nahtlos.sessions.verify import snapshot, verify


class PromotionHandoff(Frozen):
    format_change: FormatChange
    migration: MigrationReport
    verification: VerifyReport


def sessions_of(app: Application) -> SessionsConfig | None:
    return app.sessions  # typed SessionsConfig once the descriptor is loaded


def session_modules(app: Application, modules: list[str], targets: dict[str, str]) -> list[str]:
    return [m for m in modules if app.modules[m].versions[targets[m]].session is not None]


def compat_writing(*, store: SessionStore, config: SessionsConfig, step: SessionStep) -> FormatChange:
    """Tell every running version which format to write while old and new run side by side."""
    return set_write_format(store=store, config=config, schema=step.write_during)


def check_readable(*, store: SessionStore, config: SessionsConfig, provider: MigrationProvider, app: Application,
                   module: str, version: str, step: SessionStep) -> PreflightReport:
    """Every live session must be readable by ``module@version``; else the release stops here."""
    spec = app.modules[module].versions[version].session
    assert spec is not None
    via = step.write_during if step.write_during != spec.writes else None
    report = preflight(store=store, config=config, provider=provider, to_schema=spec.writes,
                       readable=spec.reads, round_trip_via=via)
    if not report.ok:
        raise HandoffBlocked(f"{report.failed} of {report.checked} live sessions cannot be read by {version} "
                             f"({report.summary()})", subject=f"module {module}",
                             hint="fix the migration or the new version; no user was moved")
    return report


def restore_after_rollback(*, store: SessionStore, config: SessionsConfig, provider: MigrationProvider,
                           app: Application, step: SessionStep) -> MigrationReport:
    """Before users go back: the old format is written again, and any record a canary wrote in a
    format an old version cannot read is migrated back (normally none: compat writing prevents it)."""
    specs = [m.versions[m.deployed].session for m in app.modules.values() if m.versions[m.deployed].session]
    readable = set.intersection(*(set(s.reads) for s in specs)) if specs else {step.stored_before}
    return restore_for_rollback(store=store, config=config, provider=provider, write_format=step.stored_before,
                                readable=readable, to_schema=step.stored_before)


def migrate_after_promotion(*, store: SessionStore, config: SessionsConfig, provider: MigrationProvider,
                            step: SessionStep) -> PromotionHandoff:
    before = snapshot(store=store, config=config, provider=provider, to_schema=step.stored_after)
    change = set_write_format(store=store, config=config, schema=step.stored_after)
    migration = migrate_all(store=store, config=config, provider=provider, to_schema=step.stored_after)
    checked = verify(store=store, config=config, before=before)
    if not checked.ok:
        raise HandoffBlocked(f"verification after migrating to format {step.stored_after} failed "
                             f"({checked.summary()})", subject=config.key_pattern,
                             hint="the new versions keep running; inspect the named keys")
    return PromotionHandoff(format_change=change, migration=migration, verification=checked)
