from nahtlos.analysis.judge import judge
from nahtlos.analysis.models import AnalysisConfig, GateCheck, Verdict

from tests.core.analysis.windows import latencies, window, window_stats

CONFIG = AnalysisConfig()


def verdict_of(canary, stable, **kwargs):
    return judge(window=window(canary, stable), canary=canary.version, stable=stable.version,
                 config=kwargs.pop("config", CONFIG), **kwargs)


def test_a_canary_like_stable_passes_with_the_numbers_in_the_reasons():
    result = verdict_of(window_stats("2.0.0", latencies(2000, seed=1), errors=4),
                        window_stats("1.0.0", latencies(2000, seed=2), errors=5))
    assert result.verdict is Verdict.PASS and not result.extend
    assert result.error_rate.classification is Verdict.PASS and result.latency.classification is Verdict.PASS
    assert "4/2000" in result.reason and result.error_rate.p_value > 0.5
    assert 0.9 < result.latency.mean_ratio < 1.1
    assert "pass" in result.summary() and "4/2000 vs 5/2000" in result.summary()


def test_a_canary_with_many_more_errors_fails_on_the_error_rate():
    result = verdict_of(window_stats("2.0.0", latencies(1000, seed=3), errors=60),
                        window_stats("1.0.0", latencies(1000, seed=4), errors=5))
    assert result.verdict is Verdict.FAIL and result.error_rate.classification is Verdict.FAIL
    assert result.error_rate.p_value < 1e-6 and abs(result.error_rate.increase - 0.055) < 1e-9
    assert result.error_rate.upper_bound_method == "clopper-pearson"
    assert result.error_rate.canary_rate_upper_bound > 0.06


def test_a_clearly_broken_canary_fails_before_it_has_the_minimum_samples():
    result = verdict_of(window_stats("2.0.0", latencies(20, seed=5), errors=10),
                        window_stats("1.0.0", latencies(500, seed=6), errors=0))
    assert result.verdict is Verdict.FAIL and result.error_rate.classification is Verdict.FAIL
    assert result.latency.classification is Verdict.INCONCLUSIVE


def test_too_few_samples_is_inconclusive_and_asks_for_a_longer_bake():
    result = verdict_of(window_stats("2.0.0", latencies(20, seed=7)), window_stats("1.0.0", latencies(400, seed=8)))
    assert result.verdict is Verdict.INCONCLUSIVE and result.extend and not result.exhausted
    assert "too few" in result.error_rate.reason and "too few" in result.latency.reason
    assert "3 extension(s) left" in result.reason


def test_inconclusive_turns_into_fail_once_the_extensions_are_used_up():
    result = verdict_of(window_stats("2.0.0", latencies(20, seed=7)), window_stats("1.0.0", latencies(400, seed=8)),
                        extensions_used=3)
    assert result.verdict is Verdict.FAIL and not result.extend and result.exhausted
    assert result.reason.startswith("still inconclusive after 3 extension(s)")


def test_a_canary_without_errors_reports_the_rule_of_three_bound_instead_of_zero():
    result = verdict_of(window_stats("2.0.0", latencies(600, seed=9), errors=0),
                        window_stats("1.0.0", latencies(600, seed=10), errors=2))
    assert result.verdict is Verdict.PASS
    assert result.error_rate.canary_rate == 0 and result.error_rate.upper_bound_method == "rule-of-three"
    assert result.error_rate.canary_rate_upper_bound == 3 / 600
    assert "< 0.50% by the rule of three" in result.error_rate.reason


def test_an_increase_above_the_allowance_without_significance_is_inconclusive_not_pass():
    result = verdict_of(window_stats("2.0.0", latencies(60, seed=11), errors=2),
                        window_stats("1.0.0", latencies(60, seed=12), errors=0))
    assert result.error_rate.classification is Verdict.INCONCLUSIVE and "not significant" in result.error_rate.reason
    assert result.verdict is Verdict.INCONCLUSIVE


def test_a_significant_latency_shift_below_the_effect_floor_passes():
    result = verdict_of(window_stats("2.0.0", latencies(5000, median=0.11, seed=13)),
                        window_stats("1.0.0", latencies(5000, median=0.10, seed=14)))
    lat = result.latency
    assert lat.p_value < CONFIG.latency_alpha and lat.shift_lower_seconds > lat.tolerance_seconds > 0
    assert 1.05 < lat.mean_ratio < CONFIG.latency_effect_floor
    assert lat.classification is Verdict.PASS and "below the effect floor" in lat.reason
    assert result.verdict is Verdict.PASS


def test_a_latency_shift_above_the_effect_floor_fails():
    result = verdict_of(window_stats("2.0.0", latencies(500, median=0.15, seed=15)),
                        window_stats("1.0.0", latencies(500, median=0.10, seed=16)))
    assert result.latency.classification is Verdict.FAIL and result.latency.mean_ratio > 1.4
    assert result.verdict is Verdict.FAIL and result.reason.startswith("latency: canary slower")
    assert 0.03 < result.latency.shift_seconds < 0.07


def test_a_large_ratio_of_a_tiny_latency_is_not_a_practical_slowdown():
    result = verdict_of(window_stats("2.0.0", latencies(2000, median=0.0036, seed=21)),
                        window_stats("1.0.0", latencies(2000, median=0.0025, seed=22)))
    lat = result.latency
    assert lat.p_value < CONFIG.latency_alpha and lat.mean_ratio > CONFIG.latency_effect_floor
    assert lat.shift_seconds < CONFIG.latency_min_shift_seconds
    assert lat.classification is Verdict.PASS and result.verdict is Verdict.PASS
    strict = CONFIG.model_copy(update={"latency_min_shift_seconds": 0.0})
    assert verdict_of(window_stats("2.0.0", latencies(2000, median=0.0036, seed=21)),
                      window_stats("1.0.0", latencies(2000, median=0.0025, seed=22)),
                      config=strict).verdict is Verdict.FAIL


def test_a_faster_canary_passes():
    result = verdict_of(window_stats("2.0.0", latencies(500, median=0.05, seed=17)),
                        window_stats("1.0.0", latencies(500, median=0.10, seed=18)))
    assert result.latency.classification is Verdict.PASS and result.latency.p_value > 0.99


def test_hard_gates_fail_first_even_when_the_metrics_pass():
    good = dict(canary=window_stats("2.0.0", latencies(600, seed=19)), stable=window_stats("1.0.0", latencies(600, seed=20)))
    smoke = verdict_of(**good, gates=[GateCheck(name="smoke", failures=1, detail="1 5xx on forms 2.0.0"),
                                      GateCheck(name="sessions", failures=0)])
    assert smoke.verdict is Verdict.FAIL and smoke.reason == "hard gate 'smoke' failed: 1 5xx on forms 2.0.0"
    assert smoke.error_rate.classification is Verdict.PASS  # the numbers are still reported
    lost = verdict_of(**good, gates=[GateCheck(name="sessions", failures=2, detail="2 sessions lost")])
    assert lost.verdict is Verdict.FAIL and "'sessions'" in lost.reason


def test_connection_errors_on_the_canary_are_a_hard_gate_with_a_configurable_allowance():
    canary = window_stats("2.0.0", latencies(600, seed=21), connection_errors=1)
    stable = window_stats("1.0.0", latencies(600, seed=22), connection_errors=3)
    assert verdict_of(canary, stable).verdict is Verdict.FAIL
    assert "canary-connection-errors" in verdict_of(canary, stable).reason
    lenient = AnalysisConfig(max_canary_connection_errors=1)
    assert verdict_of(canary, stable, config=lenient).verdict is Verdict.PASS


def test_a_version_without_traffic_in_the_window_is_inconclusive():
    result = judge(window=window(window_stats("1.0.0", latencies(600, seed=23))), canary="2.0.0", stable="1.0.0",
                   config=CONFIG)
    assert result.verdict is Verdict.INCONCLUSIVE and "no responses" in result.error_rate.reason
