"""The dependency-aware release planner: a pure function from request to plan or refusal.

For every consumer/provider pair touched by the release it decides whether the
two may change in the same wave, whether one must go first, or whether no order
avoids a broken intermediate state (refusal, with the interface and ranges and
the expand/contract hint). The precedence constraints form a directed graph;
its topological generations are the waves. Session formats then may hold a
module back: a wave is only valid when every running version reads the stored
format and all share a format they can write (see ``nahtlos.compat``).
"""

from __future__ import annotations

from itertools import combinations
from typing import Iterable

import networkx as nx

from nahtlos.compat import Compatibility, Violation, common_format, write_format
from nahtlos.descriptor import Application, SessionSpec
from nahtlos.errors import UnknownObject
from nahtlos.plan_models import Constraint, ModuleChange, ReleasePlan, SessionStep
from nahtlos.radius import blast_radius
from nahtlos.versions import version_key

# Orders of session modules tried before giving up; each try is cheap, but the count is exponential.
SEARCH_BUDGET = 20_000


def validate_targets(app: Application, targets: dict[str, str]) -> dict[str, str]:
    """Unknown modules or versions are invalid input (exit 2), not a refusal."""
    for module, version in targets.items():
        if module not in app.modules:
            known = ", ".join(sorted(app.modules))
            raise UnknownObject(f"no module {module!r} in application {app.name}", subject=module,
                                hint=f"known modules: {known}")
        versions = app.modules[module].versions
        if version not in versions:
            known = ", ".join(sorted(versions, key=version_key))
            raise UnknownObject(f"module {module} has no version {version!r}", subject=f"{module}={version}",
                                hint=f"known versions: {known}")
    return dict(targets)


def plan_release(app: Application, targets: dict[str, str]) -> ReleasePlan:
    targets = validate_targets(app, targets)
    return _Planner(app, targets).plan()


class _Planner:
    def __init__(self, app: Application, targets: dict[str, str]) -> None:
        self.app = app
        self.compat = Compatibility(app)
        self.cur = {name: module.deployed for name, module in app.modules.items()}
        self.new = dict(self.cur)
        self.changes: dict[str, ModuleChange] = {}
        for module, version in sorted(targets.items()):
            if version != self.cur[module]:
                self.new[module] = version
                self.changes[module] = ModuleChange(module=module, from_version=self.cur[module], to_version=version)
        self.released = set(self.changes)
        self.reasons: list[str] = []
        self.constraints: list[Constraint] = []
        self.graph = nx.DiGraph()
        self.graph.add_nodes_from(sorted(self.released))

    def plan(self) -> ReleasePlan:
        self._pairwise()
        self._cycles()
        radius = blast_radius(self.app, self.compat, self.released)
        base = dict(application=self.app.name, changes=self.changes, constraints=self.constraints,
                    blast_radius=radius)
        if self.reasons:
            return _plan(releasable=False, reasons=self.reasons, **base)
        sessions = _SessionSearch(self)
        waves, steps = sessions.waves()
        if waves is None:
            return _plan(releasable=False, reasons=sessions.reasons, **base)
        return _plan(releasable=True, waves=waves, session_steps=steps,
                     initial_session_format=sessions.initial, **base)

    # --- interfaces ---------------------------------------------------------------

    def _pairwise(self) -> None:
        for consumer in sorted(self.app.modules):
            versions = {self.cur[consumer], self.new[consumer]}
            for provider in sorted(self.compat.providers(consumer, versions)):
                if provider == Compatibility.EXTERNAL:
                    if consumer in self.released:
                        self._refuse_external(consumer)
                elif consumer in self.released or provider in self.released:
                    self._pair(consumer, provider)

    def _refuse_external(self, module: str) -> None:
        for v in self.compat.external_violations(module, self.new[module]):
            self.reasons.append(
                f"{module} {v.consumer_version} needs external {v.interface} {v.wanted}, but the application "
                f"declares {v.interface} {', '.join(v.offered) or 'nothing'} under external; "
                "update the external entry if the outside system has moved, or pick another version")

    def _pair(self, c: str, p: str) -> None:
        cur, new, check = self.cur, self.new, self.compat.violations
        if c == p:
            broken = check(c, new[c], p, new[p]) + check(c, cur[c], p, new[p]) + check(c, new[c], p, cur[p])
            if broken:
                self.reasons.append(
                    f"{c} consumes its own interface and its old and new versions cannot serve each other: "
                    f"{broken[0].describe()}; make the new version serve the old interface version too")
            return
        if p not in self.released:
            for v in check(c, new[c], p, cur[p]):
                self.reasons.append(
                    f"{v.describe()} (deployed, not part of this release); "
                    f"add {p} to the release with a version that serves {v.interface} {v.wanted}")
            return
        if c not in self.released:
            for v in check(c, cur[c], p, new[p]):
                self.reasons.append(
                    f"{v.describe()}, and {c} is not part of this release: {p} {new[p]} would break it; "
                    f"keep serving {v.interface} {v.wanted} in {p} (expand/contract) or release {c} too")
            return
        final = check(c, new[c], p, new[p])
        if final:
            self.reasons.extend(f"after the release: {v.describe()}" for v in final)
            return
        old_new, new_old = check(c, cur[c], p, new[p]), check(c, new[c], p, cur[p])
        if not old_new and not new_old:
            return  # any order, even the same wave
        if not old_new:
            self._precede(p, c, new_old[0], f"{p} before {c}: {new_old[0].describe()}")
        elif not new_old:
            self._precede(c, p, old_new[0], f"{c} before {p}: {old_new[0].describe()}")
        else:
            self.reasons.append(_no_order(old_new[0], new_old[0]))

    def _precede(self, before: str, after: str, why: Violation, reason: str) -> None:
        self.graph.add_edge(before, after)
        self.constraints.append(Constraint(before=before, after=after, interface=why.interface, reason=reason))

    def _cycles(self) -> None:
        try:
            cycle = nx.find_cycle(self.graph)
        except nx.NetworkXNoCycle:
            return
        path = " -> ".join([edge[0] for edge in cycle] + [cycle[0][0]])
        edges = {(c.before, c.after): c.reason for c in self.constraints}
        why = "; ".join(edges[(a, b)] for a, b, *_ in cycle)
        self.reasons.append(f"the release order has a cycle {path} ({why}); split the release or add an "
                            "expand/contract version that breaks the cycle")


def _plan(**fields) -> ReleasePlan:
    # Built from already-validated parts; re-validating a blast radius of millions of
    # names (10,000-module benchmark) would cost more than planning itself.
    fields.setdefault("reasons", [])
    fields.setdefault("waves", [])
    fields.setdefault("session_steps", [])
    fields.setdefault("initial_session_format", None)
    return ReleasePlan.model_construct(**fields)


def _no_order(old_new: Violation, new_old: Violation) -> str:
    c, p = old_new.consumer, old_new.provider
    return (f"no order of {c} and {p} avoids a broken state: {old_new.describe()} (if {p} goes first), and "
            f"{new_old.describe()} (if {c} goes first); first release a {p} version that serves both "
            f"{old_new.interface} {old_new.wanted} and {new_old.wanted} (expand/contract)")


class _SessionSearch:
    """Builds the waves: every module as early as its constraints allow, and session
    modules only where the session-format state of the wave stays valid."""

    def __init__(self, planner: _Planner) -> None:
        self.p = planner
        app = planner.app
        self.session_modules = sorted(
            m for m, module in app.modules.items()
            if any(module.versions[v].session for v in {planner.cur[m], planner.new[m]}))
        self.preds = {m: frozenset(planner.graph.predecessors(m)) for m in planner.released}
        self.reasons: list[str] = []
        self.initial = common_format(self._specs(frozenset(), []))
        self._failed: set[frozenset[str]] = set()
        self._budget = SEARCH_BUDGET
        self._why: dict[str, str] = {}

    def _spec(self, module: str, version: str) -> SessionSpec | None:
        return self.p.app.modules[module].versions[version].session

    def _running(self, done: frozenset[str], wave: Iterable[str]) -> list[tuple[str, str, SessionSpec]]:
        wave = set(wave)
        out = []
        for m in self.session_modules:
            if m in wave:
                versions = [self.p.cur[m], self.p.new[m]]
            else:
                versions = [self.p.new[m] if m in done else self.p.cur[m]]
            for v in versions:
                spec = self._spec(m, v)
                if spec is not None:
                    out.append((m, v, spec))
        return out

    def _specs(self, done: frozenset[str], wave: Iterable[str]) -> list[SessionSpec]:
        return [s for _, _, s in self._running(done, wave)]

    def waves(self) -> tuple[list[list[str]] | None, list[SessionStep]]:
        if self.session_modules and self.initial is None:
            names = ", ".join(f"{m} {v}" for m, v, _ in self._running(frozenset(), []))
            self.reasons.append(f"the deployed versions share no session format they can all write ({names}); "
                                "fix the deployed state first")
            return None, []
        found = self._search(frozenset(), self.initial)
        if found is None:
            if not self.reasons:
                self.reasons.extend(self._why.values() or ["no order of the session modules keeps a valid "
                                                            "session format in every state"])
            return None, []
        waves = [sorted(wave) for wave, _ in found]
        steps = [s for _, s in found] if self.session_modules else []
        steps = [s.model_copy(update={"wave": i}) for i, s in enumerate(steps)]
        self._record_delays(waves)
        return waves, steps

    def _search(self, done: frozenset[str], stored: int | None):
        released = self.p.released
        if done == released:
            return []
        if done in self._failed:
            return None
        ready = [m for m in sorted(released - done) if self.preds[m] <= done]
        plain = [m for m in ready if m not in self.session_modules]
        waiting = [m for m in ready if m in self.session_modules]
        for size in range(len(waiting), -1, -1):
            for subset in combinations(waiting, size):
                wave = plain + list(subset)
                if not wave:
                    continue
                self._budget -= 1
                if self._budget < 0:
                    self.reasons = [f"too many session modules released at once to search every order "
                                    f"({len(self.session_modules)}); release them in smaller groups"]
                    return None
                step = self._state(done, wave, stored)
                if step is None:
                    continue
                rest = self._search(done | frozenset(wave), step.stored_after)
                if rest is not None:
                    return [(wave, step)] + rest
                if self._budget < 0:
                    return None
        self._failed.add(done)
        return None

    def _state(self, done: frozenset[str], wave: list[str], stored: int | None) -> SessionStep | None:
        if not self.session_modules:
            return SessionStep(wave=0, stored_before=0, write_during=0, stored_after=0)
        running = self._running(done, wave)
        label = ", ".join(wave)
        for m, v, spec in running:
            if stored not in spec.reads:
                self._why[f"{m}{v}{stored}"] = (f"{m} {v} cannot read session format {stored}, which the store holds "
                                                f"when it would run (wave with {label}); make it read {stored}")
                return None
        during = write_format([s for _, _, s in running], stored)
        if during is None:
            names = ", ".join(f"{m} {v} writes {sorted(s.writable)}" for m, v, s in running)
            self._why[f"w{label}"] = f"no session format all running versions can write while {label} runs ({names})"
            return None
        after_specs = self._specs(done | frozenset(wave), [])
        after = common_format(after_specs) if after_specs else stored
        if after is None:
            self._why[f"a{label}"] = f"after {label}, the running versions share no session format they can write"
            return None
        return SessionStep(wave=0, stored_before=stored, write_during=during, stored_after=after)

    def _record_delays(self, waves: list[list[str]]) -> None:
        """Say why a session module runs later than its interface constraints alone would allow."""
        wave_of = {m: i for i, wave in enumerate(waves) for m in wave}
        for m, index in wave_of.items():
            ready = max((wave_of[p] + 1 for p in self.preds[m]), default=0)
            if index > ready:
                self.p.constraints.append(Constraint(
                    before=", ".join(waves[index - 1]), after=m, interface=None,
                    reason=f"{m} waits for wave {index + 1}: in an earlier wave a running version could not read "
                           "or write the stored session format"))
