"""What happened to each module and wave of a release, and the markdown report of it.

Holds counts, versions, verdicts and numbers only: never session contents.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from nahtlos.descriptor import Frozen
from nahtlos.plan_models import ReleasePlan


class Outcome(StrEnum):
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    REFUSED = "refused"
    FAILED = "failed"  # could not even roll back cleanly: an operator must look


class ModuleOutcome(Frozen):
    module: str
    stable: str
    canary: str
    passed: bool
    reason: str = ""
    steps: list[str] = Field(default_factory=list)  # what was done, in order, one line each
    verdicts: list[str] = Field(default_factory=list)  # judge summaries (numbers only)
    first_failure_at: float | None = None  # unix time the failure was detected
    rolled_back_at: float | None = None  # unix time traffic was 100% on stable again


class WaveOutcome(Frozen):
    index: int
    modules: list[str]
    outcome: Outcome
    reason: str = ""
    module_outcomes: list[ModuleOutcome] = Field(default_factory=list)
    sessions: list[str] = Field(default_factory=list)  # handoff summaries (counts only)


class ReleaseSummary(Frozen):
    application: str
    outcome: Outcome
    reason: str = ""
    targets: dict[str, str]
    waves: list[WaveOutcome] = Field(default_factory=list)
    seconds: float = 0.0

    def module_rows(self) -> list[dict]:
        return [{"wave": w.index, "module": m.module, "stable": m.stable, "canary": m.canary, "passed": m.passed,
                 "wave_outcome": w.outcome.value, "first_failure_at": m.first_failure_at,
                 "rolled_back_at": m.rolled_back_at} for w in self.waves for m in w.module_outcomes]

    def markdown(self, plan: ReleasePlan | None) -> str:
        lines = [f"# Release of {self.application}: **{self.outcome.value}**", ""]
        if self.reason:
            lines += [f"> {self.reason}", ""]
        lines += [f"Duration: {self.seconds:.1f} s", "", "| wave | module | versions | result | details |",
                  "|---|---|---|---|---|"]
        for wave in self.waves:
            for m in wave.module_outcomes:
                result = "passed" if m.passed else "failed"
                details = "<br>".join(m.steps + m.verdicts + ([m.reason] if m.reason else []))
                lines.append(f"| {wave.index + 1} ({wave.outcome.value}) | {m.module} | {m.stable} -> {m.canary} "
                             f"| {result} | {details} |")
        sessions = [s for wave in self.waves for s in wave.sessions]
        if sessions:
            lines += ["", "## Sessions", ""] + [f"- {s}" for s in sessions]
        if plan is not None and plan.constraints:
            lines += ["", "## Why this order", ""] + [f"- {c.reason}" for c in plan.constraints]
        return "\n".join(lines)


def plan_markdown(plan: ReleasePlan) -> str:
    if not plan.releasable:
        return "# Release refused\n\n" + "\n".join(f"- {r}" for r in plan.reasons)
    lines = ["| wave | modules | session format after | smoke after the wave |", "|---|---|---|---|"]
    formats = plan.session_formats
    for index, wave in enumerate(plan.waves):
        fmt = "-" if formats[index] is None else str(formats[index])
        lines.append(f"| {index + 1} | {', '.join(wave)} | {fmt} | {', '.join(plan.wave_blast_radius(index))} |")
    if plan.constraints:
        lines += ["", "Why this order:"] + [f"- {c.reason}" for c in plan.constraints]
    return "\n".join(lines)
