"""Result models of the session handoff: counts, reasons and keys, never contents.

Keys usually end in the session id, which is a bearer credential: the models
keep full keys for the operator who must repair a record, while ``summary()``
(meant for logs, CLI output and artifacts) shows masked keys only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection

from pydantic import BaseModel, ConfigDict, Field

from nahtlos.errors import HandoffBlocked
from nahtlos.sessions.records import Unusable, mask_key


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Offender(Model):
    key: str
    reason: str  # a reason constant from nahtlos.sessions.records, maybe with a scrubbed detail


class Problems(Model):
    """Counts by reason plus the first offending keys."""

    by_reason: dict[str, int] = Field(default_factory=dict)
    offenders: list[Offender] = Field(default_factory=list)
    offenders_omitted: int = 0
    key_prefix: str = ""  # literal part of the key pattern; what summaries show of a key

    @property
    def count(self) -> int:
        return sum(self.by_reason.values())

    def describe(self, *, show: int = 5) -> str:
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(self.by_reason.items()))
        keys = ", ".join(mask_key(o.key, self.key_prefix) for o in self.offenders[:show])
        more = self.count - min(show, len(self.offenders))
        return f"{reasons} (e.g. {keys}{f' and {more} more' if more > 0 else ''})" if keys else reasons


class ProblemTally:
    """Collects problems by key (a key counts once, with its latest reason)."""

    def __init__(self, *, key_prefix: str, max_offenders: int = 100) -> None:
        self._reasons: dict[str, str] = {}
        self._prefix, self._max = key_prefix, max_offenders

    def add(self, key: str, problem: Unusable | str) -> None:
        self._reasons[key] = problem.label if isinstance(problem, Unusable) else problem

    def discard(self, key: str) -> None:
        self._reasons.pop(key, None)

    def __contains__(self, key: str) -> bool:
        return key in self._reasons

    def __len__(self) -> int:
        return len(self._reasons)

    def result(self) -> Problems:
        shown = sorted(self._reasons.items())[: self._max]
        return Problems(by_reason=dict(Counter(self._reasons.values())),
                        offenders=[Offender(key=k, reason=r) for k, r in shown],
                        offenders_omitted=max(0, len(self._reasons) - self._max), key_prefix=self._prefix)


class PreflightReport(Model):
    """Whether every live session is readable by the new version (``to_schema``)."""

    to_schema: int
    round_trip_via: int | None
    checked: int
    by_schema: dict[int, int]  # stored schema -> sessions
    problems: Problems
    seconds: float

    @property
    def failed(self) -> int:
        return self.problems.count

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def summary(self) -> str:
        text = f"preflight to schema {self.to_schema}: {self.checked} sessions checked, {self.failed} unreadable"
        return text + (f": {self.problems.describe()}" if self.failed else "")

    def raise_if_blocked(self) -> None:
        if not self.ok:
            raise HandoffBlocked(self.summary(), subject="session preflight",
                                 hint="repair or delete the listed sessions, or fix the migration; no user was moved")


class SessionCensus(Model):
    """Live sessions by stored schema, counted inside the store."""

    total: int
    by_schema: dict[int, int]
    by_problem: dict[str, int]

    def outside(self, formats: Collection[int]) -> int:
        """Sessions not in one of ``formats`` (unusable ones included)."""
        return self.total - sum(n for schema, n in self.by_schema.items() if schema in formats)


class FormatChange(Model):
    format_key: str
    previous: int | None
    current: int | None  # None = key deleted: every version writes its own default
    settled_seconds: float  # waited so every version has re-read the key


class MigrationReport(Model):
    to_schema: int
    accept: list[int]  # formats left as they are
    migrated: int  # compare-and-set writes that succeeded
    conflicts: int  # records read again because a user wrote in their batch between our read and write
    gone: int  # the key expired or was deleted between our read and write
    problems: Problems  # records left untouched because they cannot be migrated
    remaining: int  # records outside ``accept`` at the end (problems included)
    passes: int
    reconnects: int  # times the store became unreachable and the migration resumed
    seconds: float

    @property
    def complete(self) -> bool:
        return self.remaining == 0

    @property
    def sessions_per_second(self) -> float:
        return self.migrated / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        text = (f"migration to schema {self.to_schema}: {self.migrated} migrated, {self.conflicts} concurrent writes "
                f"retried, {self.gone} expired meanwhile, {self.remaining} remaining after {self.passes} passes")
        return text + (f"; cannot migrate: {self.problems.describe()}" if self.problems.count else "")


class VerifyReport(Model):
    """Before/after comparison of a migration window (see ``nahtlos.sessions.verify``)."""

    to_schema: int
    before: int
    after: int
    unchanged: int
    user_writes: int  # user data changed by a write that is not the migration's
    created: int  # sessions that started during the window
    ended: int = 0  # deleted by the application on purpose (logout; see SessionsConfig.ended_key)
    expired: int  # gone after their TTL ran out
    lost: Problems  # gone before their TTL ran out
    changed_by_migration: Problems  # user data differs and the migration's write explains it
    not_migrated: Problems  # still in another schema
    unreadable: Problems
    seconds: float

    @property
    def ok(self) -> bool:
        return not (self.lost.count or self.changed_by_migration.count or self.not_migrated.count
                    or self.unreadable.count)

    def summary(self) -> str:
        text = (f"verify schema {self.to_schema}: {self.before} sessions before, {self.after} after; "
                f"{self.unchanged} unchanged, {self.user_writes} changed by their users, {self.created} new, "
                f"{self.expired} expired, {self.ended} ended by their users; {self.lost.count} lost, "
                f"{self.changed_by_migration.count} changed by the migration, {self.not_migrated.count} not migrated, "
                f"{self.unreadable.count} unreadable")
        for name, problems in (("lost", self.lost), ("changed", self.changed_by_migration),
                               ("not migrated", self.not_migrated), ("unreadable", self.unreadable)):
            if problems.count:
                text += f"; {name}: {problems.describe()}"
        return text

    def raise_if_failed(self) -> None:
        if not self.ok:
            raise HandoffBlocked(self.summary(), subject="session verification",
                                 hint="inspect the listed sessions; the migration journal shows what nahtlos wrote")
