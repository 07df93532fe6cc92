"""The planner's answer: waves, ordering reasons, session-format steps, blast radius."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from nahtlos.descriptor import Frozen
from nahtlos.versions import SemVer


class ReleaseRequest(Frozen):
    """Target versions for some modules of one application."""

    application: str
    targets: dict[str, SemVer]


class ModuleChange(Frozen):
    module: str
    from_version: str
    to_version: str


class Constraint(Frozen):
    """``before`` must be promoted in an earlier wave than ``after``."""

    before: str
    after: str
    interface: str | None  # None for an ordering forced by session formats
    reason: str


class SessionStep(Frozen):
    """Session-store formats around one wave."""

    wave: int
    stored_before: int
    write_during: int  # the common format every running version writes while the wave runs
    stored_after: int  # the format the store is migrated to once the wave is promoted

    @property
    def migrates(self) -> bool:
        return self.stored_after != self.stored_before or self.write_during != self.stored_before


class ReleasePlan(Frozen):
    application: str
    releasable: bool
    changes: dict[str, ModuleChange] = Field(default_factory=dict)
    waves: list[list[str]] = Field(default_factory=list)
    constraints: list[Constraint] = Field(default_factory=list)
    initial_session_format: int | None = None
    session_steps: list[SessionStep] = Field(default_factory=list)
    blast_radius: dict[str, list[str]] = Field(default_factory=dict)
    reasons: list[str] = Field(default_factory=list)

    @property
    def session_formats(self) -> list[int | None]:
        """The format stored after each wave (None when no module uses the session store)."""
        if not self.session_steps:
            return [None] * len(self.waves)
        return [step.stored_after for step in self.session_steps]

    def wave_of(self, module: str) -> int:
        for index, wave in enumerate(self.waves):
            if module in wave:
                return index
        raise KeyError(module)

    def wave_blast_radius(self, wave: int) -> list[str]:
        """Modules whose smoke checks run after ``wave``: its modules and everything consuming them."""
        members = set(self.waves[wave])
        for module in self.waves[wave]:
            members.update(self.blast_radius.get(module, []))
        return sorted(members)

    def as_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["session_formats"] = self.session_formats
        return data
