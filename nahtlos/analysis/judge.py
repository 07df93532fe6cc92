"""The judge: canary against stable over the same window, pass / fail / inconclusive.

Order of decisions (the way Kayenta and the zero-downtime notes, section 6, suggest):

1. Hard gates: any smoke failure, any lost session (caller's ``GateCheck``s) and connection
   errors on the canary fail at once; they need no statistics.
2. Error rate (5xx share): Fisher's exact test, one-sided. A significant increase larger than
   ``max_error_rate_increase`` fails even below ``min_samples`` (the test is exact, and a
   clearly broken canary must not wait for more traffic). Otherwise too few samples, or an
   increase above the allowance without significance, are inconclusive. A canary with zero
   errors reports the rule-of-three bound 3/n instead of "0 %".
3. Latency: Mann-Whitney U on the two histograms, Kayenta's tolerance on the Hodges-Lehmann
   shift (its lower confidence bound must exceed ``latency_tolerance`` x the shift) and an
   effect-size floor on the mean ratio. All three must hold to fail; below ``min_samples``
   latency is inconclusive.
4. Any fail -> fail. Any inconclusive -> inconclusive while extensions remain (the caller
   bakes longer and judges again), then fail: an analysis never promotes silently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from nahtlos.analysis.models import (AnalysisConfig, ErrorRateResult, GateCheck, Judgement, LatencyResult,
                                     MetricsWindow, Verdict, WindowStart, WindowStats)
from nahtlos.analysis.significance import (align_histograms, error_rate_upper_bound, fisher_greater,
                                           histogram_mean, hodges_lehmann, mann_whitney_greater)
from nahtlos.analysis.window import MetricsProvider


EXHAUSTED = "still inconclusive"


def judge(*, window: MetricsWindow, canary: str, stable: str, config: AnalysisConfig,
          gates: Sequence[GateCheck] = (), extensions_used: int = 0) -> Judgement:
    """Compare ``canary`` with ``stable`` (versions of ``window.module``) and explain the verdict."""
    canary_stats, stable_stats = window.stats(canary), window.stats(stable)
    connection_gate = GateCheck(
        name="canary-connection-errors", failures=max(0, canary_stats.connection_errors - config.max_canary_connection_errors),
        detail=f"{canary_stats.connection_errors} connection error(s) on {canary}, "
               f"{config.max_canary_connection_errors} allowed")
    all_gates = (*gates, connection_gate)
    errors = judge_error_rate(canary=canary_stats, stable=stable_stats, config=config)
    latency = judge_latency(canary=canary_stats, stable=stable_stats, config=config)
    verdict, reason = _combine(all_gates, errors, latency, config=config, extensions_used=extensions_used)
    return Judgement(verdict=verdict, reason=reason, module=window.module, canary_version=canary,
                     stable_version=stable, source=window.source,
                     window_seconds=round(window.ended_at - window.started_at, 3), gates=all_gates,
                     error_rate=errors, latency=latency, extensions_used=extensions_used,
                     extend=(verdict is Verdict.INCONCLUSIVE), exhausted=reason.startswith(EXHAUSTED))


def analyze(*, provider: MetricsProvider, start: WindowStart, canary: str, stable: str, config: AnalysisConfig,
            gates: Sequence[GateCheck] = (), extensions_used: int = 0) -> Judgement:
    """Close the window opened by ``provider.begin_window`` and judge it."""
    window = provider.end_window(start=start)
    return judge(window=window, canary=canary, stable=stable, config=config, gates=gates,
                 extensions_used=extensions_used)


def _combine(gates: Sequence[GateCheck], errors: ErrorRateResult, latency: LatencyResult, *,
             config: AnalysisConfig, extensions_used: int) -> tuple[Verdict, str]:
    failed_gates = [g for g in gates if not g.passed]
    if failed_gates:
        return Verdict.FAIL, "; ".join(f"hard gate {g.name!r} failed: {g.detail}" for g in failed_gates)
    metrics = {"error rate": errors, "latency": latency}
    failed = [f"{name}: {m.reason}" for name, m in metrics.items() if m.classification is Verdict.FAIL]
    if failed:
        return Verdict.FAIL, "; ".join(failed)
    unsure = [f"{name}: {m.reason}" for name, m in metrics.items() if m.classification is Verdict.INCONCLUSIVE]
    if unsure and extensions_used >= config.max_inconclusive_extensions:
        return Verdict.FAIL, (f"{EXHAUSTED} after {extensions_used} extension(s) of the bake: "
                              + "; ".join(unsure))
    if unsure:
        left = config.max_inconclusive_extensions - extensions_used
        return Verdict.INCONCLUSIVE, "; ".join(unsure) + f" ({left} extension(s) left)"
    return Verdict.PASS, f"error rate: {errors.reason}; latency: {latency.reason}"


def judge_error_rate(*, canary: WindowStats, stable: WindowStats, config: AnalysisConfig) -> ErrorRateResult:
    c_n, c_e, s_n, s_e = canary.responses, canary.errors, stable.responses, stable.errors
    numbers = dict(canary_responses=c_n, canary_errors=c_e, stable_responses=s_n, stable_errors=s_e)
    if not c_n or not s_n:
        return ErrorRateResult(classification=Verdict.INCONCLUSIVE,
                               reason=f"no responses in the window (canary {c_n}, stable {s_n})",
                               canary_rate=c_e / c_n if c_n else None, stable_rate=s_e / s_n if s_n else None,
                               increase=None, p_value=None, canary_rate_upper_bound=None, upper_bound_method=None,
                               **numbers)
    c_rate, s_rate = c_e / c_n, s_e / s_n
    increase = c_rate - s_rate
    p = fisher_greater(canary_errors=c_e, canary_total=c_n, stable_errors=s_e, stable_total=s_n)
    bound, method = error_rate_upper_bound(errors=c_e, total=c_n)
    rates = f"canary {c_e}/{c_n} ({c_rate:.2%}), stable {s_e}/{s_n} ({s_rate:.2%}), Fisher p={p:.3g}"
    if c_e == 0:
        rates += f", canary rate < {bound:.2%} by the rule of three"
    allowed = config.max_error_rate_increase
    if p < config.error_alpha and increase > allowed:
        verdict, reason = Verdict.FAIL, f"error rate increased by {increase:.2%} (> {allowed:.2%} allowed): {rates}"
    elif min(c_n, s_n) < config.min_samples:
        verdict, reason = Verdict.INCONCLUSIVE, f"too few responses (need {config.min_samples} per side): {rates}"
    elif increase > allowed:
        verdict, reason = (Verdict.INCONCLUSIVE,
                           f"increase of {increase:.2%} above the {allowed:.2%} allowed but not significant: {rates}")
    else:
        verdict, reason = Verdict.PASS, f"no significant increase: {rates}"
    return ErrorRateResult(classification=verdict, reason=reason, canary_rate=c_rate, stable_rate=s_rate,
                           increase=increase, p_value=p, canary_rate_upper_bound=bound, upper_bound_method=method,
                           **numbers)


def judge_latency(*, canary: WindowStats, stable: WindowStats, config: AnalysisConfig) -> LatencyResult:
    n_c, n_s = canary.latency_count, stable.latency_count
    h = align_histograms(canary.latency_buckets, stable.latency_buckets)
    c_mean = _mean(canary, h, "canary")
    s_mean = _mean(stable, h, "stable")
    ratio = c_mean / s_mean if c_mean is not None and s_mean else None
    numbers = dict(canary_samples=n_c, stable_samples=n_s, canary_mean_seconds=c_mean,
                   stable_mean_seconds=s_mean, mean_ratio=ratio)
    if min(n_c, n_s) < config.min_samples:
        return LatencyResult(classification=Verdict.INCONCLUSIVE,
                             reason=f"too few samples (canary {n_c}, stable {n_s}, need {config.min_samples} per side)",
                             p_value=None, shift_seconds=None, shift_lower_seconds=None, tolerance_seconds=None,
                             **numbers)
    if h is None:
        return LatencyResult(classification=Verdict.INCONCLUSIVE, reason="no shared latency buckets to compare",
                             p_value=None, shift_seconds=None, shift_lower_seconds=None, tolerance_seconds=None,
                             **numbers)
    _, p = mann_whitney_greater(h)
    shift, lower = hodges_lehmann(h, alpha=config.latency_alpha)
    tolerance = config.latency_tolerance * abs(shift)
    facts = (f"mean {_ms(c_mean)} vs {_ms(s_mean)} (ratio {ratio:.2f}), shift {_ms(shift)} "
             f"(lower bound {_ms(lower)}), Mann-Whitney p={p:.3g}" if ratio is not None else f"Mann-Whitney p={p:.3g}")
    significant = p < config.latency_alpha and lower > tolerance
    # Practical significance needs both a relative (mean ratio) and an absolute (shift) effect:
    # 1 ms more on a 2.5 ms answer is a ratio of 1.4 that no user notices.
    large = (ratio is not None and ratio >= config.latency_effect_floor
             and shift >= config.latency_min_shift_seconds)
    if significant and large:
        verdict, reason = Verdict.FAIL, (f"canary slower beyond the effect floor {config.latency_effect_floor:g} "
                                         f"and {_ms(config.latency_min_shift_seconds)}: {facts}")
    elif significant:
        verdict, reason = Verdict.PASS, (f"significant shift below the effect floor {config.latency_effect_floor:g} "
                                         f"or {_ms(config.latency_min_shift_seconds)}: {facts}")
    else:
        verdict, reason = Verdict.PASS, f"no significant slowdown: {facts}"
    return LatencyResult(classification=verdict, reason=reason, p_value=p, shift_seconds=shift,
                         shift_lower_seconds=lower if math.isfinite(lower) else None, tolerance_seconds=tolerance,
                         **numbers)


def _mean(stats: WindowStats, h, side: str) -> float | None:
    if stats.latency_count and stats.latency_sum_seconds > 0:
        return stats.latency_sum_seconds / stats.latency_count  # exact: the histogram keeps the sum
    return histogram_mean(h, side) if h is not None else None


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None or not math.isfinite(seconds) else f"{seconds * 1000:.1f} ms"
