import math

import numpy as np
import pytest
from scipy import stats

from nahtlos.analysis.significance import (align_histograms, error_rate_upper_bound, fisher_greater, hodges_lehmann,
                                           mann_whitney_greater)

from tests.core.analysis.windows import BOUNDS, latencies, request_stats


def expanded(h, side):
    """The samples a histogram stands for, each at its bucket's upper edge (ranks are what counts)."""
    counts = h.canary if side == "canary" else h.stable
    edges = [u if math.isfinite(u) else l + 1 for l, u in zip(h.lower, h.upper)]
    return np.repeat(edges, counts)


@pytest.mark.parametrize("seed, canary_median, n_canary, n_stable", [
    (1, 0.10, 200, 300), (2, 0.12, 50, 5000), (3, 0.09, 1000, 1000), (4, 0.3, 40, 60)])
def test_the_histogram_rank_test_equals_scipys_mann_whitney_on_the_binned_samples(seed, canary_median, n_canary,
                                                                                  n_stable):
    canary = request_stats(latencies(n_canary, median=canary_median, seed=seed)).latency_buckets
    stable = request_stats(latencies(n_stable, seed=seed + 100)).latency_buckets
    h = align_histograms(canary, stable)
    u, p = mann_whitney_greater(h)
    reference = stats.mannwhitneyu(expanded(h, "canary"), expanded(h, "stable"), alternative="greater",
                                   method="asymptotic", use_continuity=True)
    assert u == pytest.approx(reference.statistic) and p == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-300)


def test_one_shared_bucket_is_no_evidence_of_a_shift():
    h = align_histograms({0.1: 10, math.inf: 10}, {0.1: 30, math.inf: 30})
    assert mann_whitney_greater(h)[1] == 1.0 and hodges_lehmann(h, alpha=0.02)[0] == 0.0


def test_histograms_are_compared_over_the_bounds_both_share():
    h = align_histograms({0.1: 1, 0.2: 3, 0.5: 4, math.inf: 5}, {0.2: 2, 0.3: 2, math.inf: 4})
    assert h.upper == (0.2, math.inf) and h.canary == (3, 2) and h.stable == (2, 2)
    assert align_histograms({math.inf: 3}, {math.inf: 3}) is None


def test_the_shift_estimate_follows_the_true_shift_within_the_bucket_resolution():
    canary, stable = latencies(3000, median=0.13, seed=7), latencies(3000, median=0.10, seed=8)
    true_shift = float(np.median(np.subtract.outer(canary, stable)))
    h = align_histograms(request_stats(canary).latency_buckets, request_stats(stable).latency_buckets)
    shift, lower = hodges_lehmann(h, alpha=0.02)
    assert shift == pytest.approx(true_shift, abs=0.004) and 0 < lower <= shift


def test_the_lower_bound_is_unknown_with_too_few_samples():
    h = align_histograms({0.1: 1, math.inf: 2}, {0.1: 1, math.inf: 1})
    assert hodges_lehmann(h, alpha=0.02)[1] == -math.inf


def test_fisher_is_one_sided_towards_a_worse_canary():
    worse = fisher_greater(canary_errors=10, canary_total=100, stable_errors=1, stable_total=100)
    better = fisher_greater(canary_errors=1, canary_total=100, stable_errors=10, stable_total=100)
    assert worse < 0.01 and better > 0.99


def test_error_rate_bounds_rule_of_three_and_clopper_pearson():
    assert error_rate_upper_bound(errors=0, total=300) == (0.01, "rule-of-three")
    bound, method = error_rate_upper_bound(errors=5, total=200)
    exact = stats.binomtest(5, 200, alternative="less").proportion_ci(confidence_level=0.95).high
    assert method == "clopper-pearson" and bound == pytest.approx(exact)
    assert error_rate_upper_bound(errors=4, total=4) == (1.0, "clopper-pearson")


def test_the_test_helper_builds_cumulative_buckets():
    stats_ = request_stats([0.001, 0.02, 0.02, 7.0])
    assert stats_.latency_buckets[0.005] == 1 and stats_.latency_buckets[0.025] == 3
    assert stats_.latency_buckets[BOUNDS[-1]] == 3
