"""``nahtlos plan DESCRIPTOR --to MODULE=VERSION ...``: the planner's answer, no side effects."""

from __future__ import annotations

import argparse
import json

from nahtlos.errors import InvalidInput
from nahtlos.loader import load_application
from nahtlos.plan_models import ReleasePlan
from nahtlos.planning import plan_release


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("plan", help="show the release order (or the refusal) for target versions")
    parser.add_argument("descriptor", help="application descriptor, e.g. deployments/buergerservice.yaml")
    add_target_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", dest="targets", action="append", default=[], metavar="MODULE=VERSION",
                        help="target version of a module (repeatable)")


def parse_targets(pairs: list[str]) -> dict[str, str]:
    targets: dict[str, str] = {}
    for pair in pairs:
        module, sep, version = pair.partition("=")
        if not sep or not module or not version:
            raise InvalidInput(f"--to {pair!r} is not MODULE=VERSION", hint="e.g. --to forms=2.0.0")
        if module in targets and targets[module] != version:
            raise InvalidInput(f"--to names module {module} twice with different versions")
        targets[module] = version
    if not targets:
        raise InvalidInput("no target given", hint="add --to MODULE=VERSION")
    return targets


def run(args: argparse.Namespace) -> int:
    app = load_application(args.descriptor)
    plan = plan_release(app, parse_targets(args.targets))
    print(json.dumps(plan.as_json(), indent=2) if args.json else render(plan))
    return 0 if plan.releasable else 3


def render(plan: ReleasePlan) -> str:
    lines = []
    if plan.changes:
        lines.append(f"Release of {plan.application}:")
        for change in plan.changes.values():
            lines.append(f"  {change.module:<16} {change.from_version} -> {change.to_version}")
    else:
        lines.append(f"Nothing to release in {plan.application}: every target is already deployed.")
    if not plan.releasable:
        lines.append("")
        lines.append("REFUSED: no safe order exists.")
        lines.extend(f"  - {reason}" for reason in plan.reasons)
        return "\n".join(lines)
    formats = plan.session_formats
    lines.append("")
    lines.append(f"{'wave':<6}{'modules':<40}{'session format after':<22}smoke after the wave")
    for index, wave in enumerate(plan.waves):
        fmt = "-" if formats[index] is None else str(formats[index])
        radius = ", ".join(plan.wave_blast_radius(index))
        lines.append(f"{index + 1:<6}{', '.join(wave):<40}{fmt:<22}{radius}")
    if plan.constraints:
        lines.append("")
        lines.append("Why this order:")
        lines.extend(f"  - {c.reason}" for c in plan.constraints)
    if plan.session_steps:
        lines.append("")
        lines.append(f"Session formats (stored now: {plan.initial_session_format}):")
        for step in plan.session_steps:
            moved = (f"migrate {step.stored_before} -> {step.stored_after}" if step.stored_after != step.stored_before
                     else "no migration")
            lines.append(f"  wave {step.wave + 1}: write {step.write_during} while old and new run; {moved}")
    return "\n".join(lines)
