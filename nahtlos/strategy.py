"""The release strategy as data, like Argo Rollouts' step list.

```yaml
strategy:
  steps:
    - set_weight: 10          # percent of new sessions on the canary
    - bake: 10                # seconds; the judge watches every `watch_interval` and fails fast
    - analyze: {}             # judge the window since the last set_weight; may override thresholds
    - pause: {timeout: 3600}  # wait for an operator's approval in the Prefect UI
    - set_weight: 100
  analysis: {min_samples: 50}
  drain_deadline: 60
```

The application's strategy applies to every module; a module's own ``strategy:``
overrides it key by key. Reaching the end of the list promotes.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from nahtlos.analysis.models import AnalysisConfig
from nahtlos.descriptor import Application, Frozen


class SetWeight(Frozen):
    set_weight: int = Field(ge=0, le=100)


class Bake(Frozen):
    bake: float = Field(ge=0, le=86_400)


class Analyze(Frozen):
    analyze: dict[str, Any] = Field(default_factory=dict)  # AnalysisConfig fields overriding the strategy's

    @model_validator(mode="after")
    def _valid_overrides(self) -> "Analyze":
        AnalysisConfig.model_validate(self.analyze)
        return self


class PauseSpec(Frozen):
    timeout: float = Field(3600, gt=0)
    message: str = "approve to continue the canary"


class Pause(Frozen):
    pause: PauseSpec = Field(default_factory=PauseSpec)


Step = SetWeight | Bake | Analyze | Pause


def _default_steps() -> list[Step]:
    steps: list[Step] = []
    for weight in (10, 25, 50):
        steps += [SetWeight(set_weight=weight), Bake(bake=10), Analyze()]
    return steps + [SetWeight(set_weight=100)]


class Strategy(Frozen):
    steps: list[Step] = Field(default_factory=_default_steps)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    watch_interval: float = Field(1.0, gt=0, le=60)  # how often a bake re-judges (fast rollback)
    bake_extension: float = Field(10, ge=0)  # extra seconds per inconclusive analysis
    drain_deadline: float = Field(60, ge=0)  # pinned sessions on the old version finish or are moved by then
    deploy_timeout: float = Field(120, gt=0)
    max_parallel: int = Field(4, ge=1, le=64)  # modules of one wave released at once

    @model_validator(mode="after")
    def _ends_on_full_traffic(self) -> "Strategy":
        weights = [s.set_weight for s in self.steps if isinstance(s, SetWeight)]
        if weights and weights[-1] != 100:
            raise ValueError("the last set_weight must be 100 (promotion moves all traffic)")
        return self

    def analysis_for(self, step: Analyze) -> AnalysisConfig:
        return self.analysis.model_copy(update=step.analyze) if step.analyze else self.analysis


def strategy_for(app: Application, module: str, override: dict[str, Any] | None = None) -> Strategy:
    """Application strategy, then the module's own keys, then a per-run override."""
    merged: dict[str, Any] = dict(app.strategy or {})
    for layer in (app.modules[module].strategy, override):
        for key, value in (layer or {}).items():
            if key == "analysis" and isinstance(value, dict):
                merged["analysis"] = {**merged.get("analysis", {}), **value}
            else:
                merged[key] = value
    return Strategy.model_validate(merged)
