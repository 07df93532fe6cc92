"""Statistics of the judge: an exact test on error counts, a rank test on latency histograms.

Error rate: Fisher's exact test on the 2x2 table (errors, successes) x (canary, stable),
one-sided (canary worse). It is exact, so it stays valid for the small counts of a young canary.

Latency arrives as histograms (the router and Prometheus both bucket it), not as raw samples.
Both versions share the bucket bounds, so the rank of every observation among the other
version's is known except for ties inside a bucket, which count one half: the Mann-Whitney U of
two histograms is the U of the underlying samples with each bucket treated as a tie group. It is
computed from bucket counts in O(buckets), whatever the number of requests, with the
tie-corrected normal approximation, which is what ``scipy.stats.mannwhitneyu(method=
"asymptotic")`` returns for the expanded samples (the tests check that they agree).

The shift estimate (Hodges-Lehmann: the median of all canary - stable differences) and its
confidence bound, which Kayenta's tolerance needs, need values. As Prometheus'
``histogram_quantile`` does, observations are taken as spread evenly inside their bucket
(represented by ``POINTS_PER_BUCKET`` evenly spaced points); the unbounded last bucket sits at its
lower edge. Midpoints alone would not do: most pairs then fall in the same bucket and the median
difference is 0 for any shift smaller than a bucket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

RULE_OF_THREE = "rule-of-three"
CLOPPER_PEARSON = "clopper-pearson"
POINTS_PER_BUCKET = 16


def fisher_greater(*, canary_errors: int, canary_total: int, stable_errors: int, stable_total: int) -> float:
    """p-value of 'the canary's error rate is higher than the stable one's'."""
    table = [[canary_errors, canary_total - canary_errors], [stable_errors, stable_total - stable_errors]]
    return float(stats.fisher_exact(table, alternative="greater").pvalue)


def error_rate_upper_bound(*, errors: int, total: int, confidence: float = 0.95) -> tuple[float, str]:
    """One-sided upper bound of an error rate: 3/n for zero errors (the rule of three), else Clopper-Pearson."""
    if errors == 0:
        return min(1.0, 3.0 / total), RULE_OF_THREE
    if errors >= total:
        return 1.0, CLOPPER_PEARSON
    return float(stats.beta.ppf(confidence, errors + 1, total - errors)), CLOPPER_PEARSON


@dataclass(frozen=True)
class Histograms:
    """Two histograms over the same buckets, as counts per bucket (not cumulative)."""

    lower: tuple[float, ...]  # lower edge of each bucket, ascending
    upper: tuple[float, ...]  # upper edge (the last one is +inf)
    canary: tuple[int, ...]
    stable: tuple[int, ...]

    @property
    def sizes(self) -> tuple[int, int]:
        return sum(self.canary), sum(self.stable)

    def points(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        """(values, weights) standing for the observations of one side, spread evenly per bucket."""
        counts = self.canary if side == "canary" else self.stable
        values, weights = [], []
        for lo, hi, count in zip(self.lower, self.upper, counts):
            if not count:
                continue
            if math.isinf(hi):
                values.append(np.array([lo]))
                weights.append(np.array([float(count)]))
            else:
                values.append(lo + (np.arange(POINTS_PER_BUCKET) + 0.5) / POINTS_PER_BUCKET * (hi - lo))
                weights.append(np.full(POINTS_PER_BUCKET, count / POINTS_PER_BUCKET))
        if not values:
            return np.empty(0), np.empty(0)
        return np.concatenate(values), np.concatenate(weights)


def align_histograms(canary: dict[float, int], stable: dict[float, int]) -> Histograms | None:
    """Per-bucket counts over the bounds both histograms share; None without a finite bound."""
    finite = sorted(b for b in set(canary) & set(stable) if math.isfinite(b))
    if not finite:
        return None
    upper = (*finite, math.inf)
    lower = (0.0, *finite)
    return Histograms(lower=lower, upper=upper, canary=_per_bucket(canary, upper), stable=_per_bucket(stable, upper))


def _per_bucket(cumulative: dict[float, int], bounds: list[float]) -> tuple[int, ...]:
    total = cumulative.get(math.inf, max(cumulative.values(), default=0))
    counts, below = [], 0
    for bound in bounds:
        at_or_below = total if math.isinf(bound) else cumulative[bound]
        counts.append(max(0, at_or_below - below))  # a torn scrape must not make counts negative
        below = max(below, at_or_below)
    return tuple(counts)


def _tie_corrected_sd(h: Histograms) -> float:
    n1, n2 = h.sizes
    n = n1 + n2
    if n < 2:
        return 0.0
    ties = sum((a + b) ** 3 - (a + b) for a, b in zip(h.canary, h.stable))
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    return math.sqrt(variance) if variance > 0 else 0.0


def mann_whitney_greater(h: Histograms) -> tuple[float, float]:
    """(U of the canary, one-sided p-value of 'the canary is slower'), continuity-corrected."""
    n1, n2 = h.sizes
    u, below = 0.0, 0
    for a, b in zip(h.canary, h.stable):
        u += a * (below + b / 2)
        below += b
    sd = _tie_corrected_sd(h)
    if sd == 0:  # everything in one bucket: no evidence of a shift
        return u, 1.0
    z = (u - n1 * n2 / 2 - 0.5) / sd
    return u, float(stats.norm.sf(z))


def hodges_lehmann(h: Histograms, *, alpha: float) -> tuple[float, float]:
    """(shift estimate, one-sided 1 - alpha lower confidence bound) of canary - stable.

    The bound is the k-th smallest pairwise difference with k = n1*n2/2 - z * sd (the
    distribution-free interval of the rank test); -inf when there are too few samples.
    """
    n1, n2 = h.sizes
    if not n1 or not n2:
        return 0.0, -math.inf
    canary_values, canary_weights = h.points("canary")
    stable_values, stable_weights = h.points("stable")
    differences = np.subtract.outer(canary_values, stable_values).ravel()
    order = np.argsort(differences, kind="stable")
    differences = differences[order]
    cumulative = np.cumsum(np.multiply.outer(canary_weights, stable_weights).ravel()[order])

    def kth(k: float) -> float:  # the k-th smallest difference, 1-based, by weight
        return float(differences[min(int(np.searchsorted(cumulative, k - 1e-9)), len(differences) - 1)])

    total = n1 * n2
    median = (kth(total / 2) + kth(total / 2 + 1)) / 2
    k = math.floor(total / 2 - float(stats.norm.ppf(1 - alpha)) * _tie_corrected_sd(h))
    return median, kth(k) if k >= 1 else -math.inf


def histogram_mean(h: Histograms, side: str) -> float | None:
    """Mean from the spread observations, for sources without a latency sum."""
    values, weights = h.points(side)
    return float(np.average(values, weights=weights)) if weights.sum() else None
