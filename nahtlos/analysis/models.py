"""Models of the canary analysis: configuration, measured windows, and the judge's verdict.

Pydantic only (no scipy), so descriptors and Prefect blocks can import them cheaply.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from nahtlos.platforms.base import RequestStats


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class AnalysisConfig(Model):
    """Thresholds of one analysis; the defaults follow Kayenta where it has one."""

    min_samples: int = Field(50, ge=1)  # responses per side before a metric may pass (Spinnaker: >= 50)
    max_error_rate_increase: float = Field(0.01, ge=0, le=1)  # canary rate - stable rate, absolute
    error_alpha: float = Field(0.05, gt=0, lt=1)  # Fisher's exact test, one-sided (canary worse)
    latency_alpha: float = Field(0.02, gt=0, lt=1)  # Mann-Whitney U, one-sided (Kayenta: 98 % confidence)
    latency_tolerance: float = Field(0.25, ge=0)  # lower bound of the shift must exceed this share of it
    latency_effect_floor: float = Field(1.2, ge=1)  # canary/stable mean ratio from which a shift counts
    latency_min_shift_seconds: float = Field(0.005, ge=0)  # and the absolute shift from which it counts
    max_canary_connection_errors: int = Field(0, ge=0)  # hard gate
    max_inconclusive_extensions: int = Field(3, ge=0)  # then inconclusive becomes fail


class WindowStart(Model):
    """Where a measuring window begins. Serializable, so it can travel between tasks."""

    module: str
    source: str  # "platform" | "prometheus"
    started_at: float  # unix seconds (the metric source's clock where it has one)
    baseline: dict[str, RequestStats] = Field(default_factory=dict)  # version -> counters at the start


class WindowStats(Model):
    """One version's traffic inside one window (differences of cumulative counters)."""

    version: str
    responses: int = 0  # answered with a status code
    errors: int = 0  # 5xx responses
    client_errors: int = 0  # 4xx responses (reported, not judged: clients cause them)
    connection_errors: int = 0  # no response at all
    # Cumulative histogram within the window: upper bound (s) -> responses at or below it; has +inf.
    latency_buckets: dict[float, int] = Field(default_factory=dict)
    latency_sum_seconds: float = 0.0

    @property
    def latency_count(self) -> int:
        return self.latency_buckets.get(math.inf, 0)


class MetricsWindow(Model):
    """Every version of one module measured over the SAME window."""

    module: str
    source: str
    started_at: float
    ended_at: float
    versions: dict[str, WindowStats]

    def stats(self, version: str) -> WindowStats:
        """A version that saw no traffic in the window has all-zero statistics."""
        return self.versions.get(version) or WindowStats(version=version)


class GateCheck(Model):
    """A binary check that fails the analysis on any failure (smoke, sessions, connections)."""

    name: str
    failures: int = Field(ge=0)
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.failures == 0


class ErrorRateResult(Model):
    classification: Verdict
    reason: str
    canary_responses: int
    canary_errors: int
    stable_responses: int
    stable_errors: int
    canary_rate: float | None
    stable_rate: float | None
    increase: float | None  # canary rate - stable rate
    p_value: float | None  # Fisher's exact test, one-sided
    canary_rate_upper_bound: float | None  # 95 % one-sided upper bound of the canary's error rate
    upper_bound_method: Literal["rule-of-three", "clopper-pearson"] | None


class LatencyResult(Model):
    classification: Verdict
    reason: str
    canary_samples: int
    stable_samples: int
    canary_mean_seconds: float | None
    stable_mean_seconds: float | None
    mean_ratio: float | None  # the effect size (Kayenta's meanRatio)
    p_value: float | None  # Mann-Whitney U on the histograms, one-sided (canary slower)
    shift_seconds: float | None  # Hodges-Lehmann estimate of canary - stable
    shift_lower_seconds: float | None  # one-sided lower confidence bound of the shift
    tolerance_seconds: float | None  # the lower bound must exceed this for a practical shift


class Judgement(Model):
    """The judge's answer: a verdict with every number that led to it, never a bare boolean."""

    verdict: Verdict
    reason: str
    module: str
    canary_version: str
    stable_version: str
    source: str
    window_seconds: float
    gates: tuple[GateCheck, ...]
    error_rate: ErrorRateResult
    latency: LatencyResult
    extensions_used: int
    extend: bool  # inconclusive with extensions left: bake longer, then judge again
    exhausted: bool = False  # fail only because it stayed inconclusive after the last extension

    def summary(self) -> str:
        """One line for logs and reports (numbers only, no user data)."""
        e, lat = self.error_rate, self.latency
        return (f"{self.module} {self.canary_version} vs {self.stable_version}: {self.verdict.value} "
                f"(errors {e.canary_errors}/{e.canary_responses} vs {e.stable_errors}/{e.stable_responses}, "
                f"latency ratio {_fmt(lat.mean_ratio)}, window {self.window_seconds:.1f} s) - {self.reason}")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
