"""Compatibility between module versions, and session-format states.

``compatible(c@x, p@y)``: every range that consumer ``c`` at version ``x``
declares for an interface that ``p`` provides is satisfied by at least one
version of that interface which ``p@y`` provides. The planner asks this for
pairs of versions that run side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from nahtlos.descriptor import Application, SessionSpec
from nahtlos.versions import in_range


@dataclass(frozen=True)
class Violation:
    consumer: str
    consumer_version: str
    provider: str
    provider_version: str
    interface: str
    wanted: str
    offered: tuple[str, ...]  # empty: the provider version does not serve the interface at all

    def describe(self) -> str:
        offered = ", ".join(self.offered) if self.offered else "nothing"
        return (f"{self.consumer} {self.consumer_version} needs {self.interface} {self.wanted}, "
                f"but {self.provider} {self.provider_version} serves {self.interface} {offered}")


class Compatibility:
    """Answers compatible(c@x, p@y) for one application, with the consumed ranges indexed by provider."""

    EXTERNAL = "<external>"

    def __init__(self, app: Application) -> None:
        self.app = app
        self.provider_of: dict[str, str] = {}
        for name, module in app.modules.items():
            for spec in module.versions.values():
                for interface in spec.provides:
                    self.provider_of[interface] = name
        for interface in app.external:
            self.provider_of[interface] = self.EXTERNAL
        # (module, version) -> provider -> [(interface, range)]
        self._needs: dict[tuple[str, str], dict[str, list[tuple[str, str]]]] = {}
        self._cache: dict[tuple[str, str, str, str], tuple[Violation, ...]] = {}

    def needs(self, module: str, version: str) -> dict[str, list[tuple[str, str]]]:
        key = (module, version)
        found = self._needs.get(key)
        if found is None:
            found = {}
            for interface, wanted in self.app.modules[module].versions[version].consumes.items():
                found.setdefault(self.provider_of[interface], []).append((interface, wanted))
            self._needs[key] = found
        return found

    def providers(self, module: str, versions: Iterable[str]) -> set[str]:
        """Every module (or EXTERNAL) that ``module`` consumes from in any of ``versions``."""
        out: set[str] = set()
        for version in versions:
            out.update(self.needs(module, version))
        return out

    def violations(self, consumer: str, x: str, provider: str, y: str) -> tuple[Violation, ...]:
        key = (consumer, x, provider, y)
        found = self._cache.get(key)
        if found is None:
            found = tuple(self._check(consumer, x, provider, y))
            self._cache[key] = found
        return found

    def compatible(self, consumer: str, x: str, provider: str, y: str) -> bool:
        return not self.violations(consumer, x, provider, y)

    def _check(self, consumer: str, x: str, provider: str, y: str) -> Iterable[Violation]:
        wanted = self.needs(consumer, x).get(provider, [])
        if not wanted:
            return
        if provider == self.EXTERNAL:
            provided = self.app.external
        else:
            provided = self.app.modules[provider].versions[y].provides
        for interface, range_ in wanted:
            offered = provided.get(interface, ())
            if not any(in_range(v, range_) for v in offered):
                yield Violation(consumer, x, provider, y, interface, range_, tuple(offered))

    def external_violations(self, module: str, version: str) -> tuple[Violation, ...]:
        return self.violations(module, version, self.EXTERNAL, "")


# --- session formats -------------------------------------------------------------

def common_format(specs: Iterable[SessionSpec]) -> int | None:
    """Newest format that every given version can both write and read, or None."""
    specs = list(specs)
    if not specs:
        return None
    common = frozenset.intersection(*(s.writable for s in specs))
    return max(common) if common else None


def write_format(specs: list[SessionSpec], stored: int) -> int | None:
    """The format all running versions write while they run side by side.

    Keep writing what is stored when everyone can; otherwise the newest common one.
    """
    if all(stored in s.writable for s in specs):
        return stored
    return common_format(specs)
