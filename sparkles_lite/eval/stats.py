"""Confidence intervals, so small evaluation sets are never reported as bare point estimates."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959963984540054
# Two-sided 95% Student t critical values for 1..30 degrees of freedom; z beyond that.
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042)


def accuracy_by_class(classes: Sequence[str], correct: Sequence[bool]) -> dict[str, dict]:
    """{class: {"n", "correct", "accuracy"}}, classes sorted: a model that leans to one answer scores
    high on its class and low on the others, which one overall accuracy hides."""
    cells: dict[str, dict] = {}
    for c, ok in zip(classes, correct):
        cell = cells.setdefault(c, {"n": 0, "correct": 0})
        cell["n"] += 1
        cell["correct"] += bool(ok)
    for cell in cells.values():
        cell["accuracy"] = cell["correct"] / cell["n"]
    return dict(sorted(cells.items()))


def wilson_ci(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion: sensible at 0%, 100% and small n (unlike p ± z·se)."""
    if n <= 0:
        raise ValueError("a confidence interval needs n > 0")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, {n}], got {successes}")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # The interval always contains p; clamp so float rounding cannot put p outside it (at 0% or 100%).
    return min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))


def t95(df: int) -> float:
    """The two-sided 95% Student t critical value for `df` degrees of freedom (z = 1.96 beyond 30)."""
    if df < 1:
        raise ValueError("t95 needs df >= 1")
    return _T95[df - 1] if df <= len(_T95) else Z95


def mean_ci(values: Sequence[float]) -> tuple[float, float, float]:
    """(mean, low, high): a Student-t 95% interval for the mean; (m, m, m) for one value."""
    n = len(values)
    if n == 0:
        raise ValueError("mean_ci needs at least one value")
    m = sum(values) / n
    if n == 1:
        return m, m, m
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
    t = t95(n - 1)
    half = t * sd / math.sqrt(n)
    return m, m - half, m + half


def bootstrap_mean_ci(values: Sequence[float], groups: Sequence | None = None, n_resamples: int = 4000,
                      seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high): a percentile-bootstrap 95% interval for the mean, deterministic for a seed.

    `groups` (one label per value, e.g. the example a value came from) resamples whole groups: values
    from one conversation are not independent, and resampling them one by one would make the interval
    too narrow. Each resample's mean is over all values of the groups drawn."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        raise ValueError("bootstrap_mean_ci needs at least one value")
    labels = np.arange(v.size) if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1]
    if len(labels) != v.size:
        raise ValueError(f"{len(labels)} group labels for {v.size} values")
    sums = np.bincount(labels, weights=v)
    counts = np.bincount(labels).astype(float)
    draws = np.random.default_rng(seed).integers(0, len(sums), size=(n_resamples, len(sums)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(v.mean()), float(low), float(high)
