"""Confidence intervals for paired comparisons over seeds and correlated test clips.

Two sources of noise decide whether one arm beats another (issue 9):

- *seeds*: each seed draws its own labelled clips, initialisation and batches; two arms run
  with the same seed are paired, so the statistic is the per-seed difference;
- *test clips*: clips of one group (``v_Class_gGG_cCC``) share their background and tend to
  be right or wrong together, so a test set of N clips holds fewer than N independent
  samples. Intervals that resample clips one by one are then too narrow; resampling whole
  groups (a cluster bootstrap) is not.

Every interval here is a percentile bootstrap, vectorised over resamples (drawn in chunks
to bound memory) and deterministic given ``seed``. numpy only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from imrkit.errors import ConfigError, ShapeError

# Resample draws per chunk (resamples x samples): ~16 MB of float64 at a time.
_CHUNK_ELEMENTS = 2_000_000


@dataclass(frozen=True)
class Estimate:
    """A mean with its bootstrap confidence interval.

    Attributes:
        mean: the point estimate (the plain mean of the data).
        low, high: the interval's bounds.
        n: the independent units resampled (seeds, or groups).
    """

    mean: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return format_ci(self.mean, self.low, self.high)


@dataclass(frozen=True)
class Comparison(Estimate):
    """A paired difference (arm A minus arm B) with its confidence interval."""

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies wholly above or wholly below zero."""
        return self.low > 0 or self.high < 0


def format_ci(
    mean: float, low: float, high: float, *, digits: int = 1, signed: bool = False
) -> str:
    """``"12.3 [8.1, 16.0]"``: the mean and its interval, ``digits`` decimals; ``signed``
    (for differences) shows every sign, ``"+2.5 [-6.2, +10.0]"``."""
    mean, low, high = (round(value, digits) + 0.0 for value in (mean, low, high))  # no "-0.0"
    spec = f"{'+' if signed else ''}.{digits}f"
    return f"{mean:{spec}} [{low:{spec}}, {high:{spec}}]"


def _check_confidence(confidence: float, resamples: int) -> None:
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    if resamples < 1:
        raise ConfigError(f"resamples must be >= 1, got {resamples}")


def _as_vector(values: Iterable[float], name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or not len(array):
        raise ShapeError(f"{name}: expected a non-empty 1-D array, got shape {array.shape}")
    return array


def _percentiles(statistics: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    low, high = np.quantile(statistics, [tail, 1 - tail])
    return float(low), float(high)


def _draw_counts(rng: np.random.Generator, num_units: int, rows: int) -> np.ndarray:
    """(rows x num_units) float counts: how often each unit is drawn in each of ``rows``
    resamples of ``num_units`` draws with replacement."""
    draws = rng.integers(0, num_units, size=(rows, num_units))
    # One bincount for all rows (row r's units offset by r * num_units): about twice as
    # fast as rng.multinomial, which draws unit by unit.
    offsets = np.arange(rows)[:, None] * num_units
    counts = np.bincount((draws + offsets).ravel(), minlength=rows * num_units)
    return counts.reshape(rows, num_units).astype(np.float64)


def _resample_counts(
    rng: np.random.Generator, num_units: int, resamples: int
) -> Iterable[np.ndarray]:
    """:func:`_draw_counts` for ``resamples`` rows, in chunks that bound memory."""
    chunk = max(1, _CHUNK_ELEMENTS // num_units)
    for start in range(0, resamples, chunk):
        yield _draw_counts(rng, num_units, min(chunk, resamples - start))


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of independent ``values``.

    The values are centred before resampling (and the mean added back), so a constant
    sample gives exactly a zero-width interval.
    """
    _check_confidence(confidence, resamples)
    values = _as_vector(values, "values")
    mean = values.mean()
    deviations = values - mean
    rng = np.random.default_rng(seed)
    means = np.concatenate(
        [counts @ deviations for counts in _resample_counts(rng, len(values), resamples)]
    ) / len(values)
    low, high = _percentiles(means, confidence)
    return float(mean + low), float(mean + high)


def paired_difference(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> Comparison:
    """Mean of ``a[i] - b[i]`` (``a[i]`` and ``b[i]`` share seed ``i``) with its percentile
    bootstrap interval over seeds."""
    a, b = _as_vector(a, "a"), _as_vector(b, "b")
    if a.shape != b.shape:
        raise ShapeError(f"a and b must pair up seed by seed, got {len(a)} and {len(b)} values")
    differences = a - b
    low, high = bootstrap_ci(differences, confidence=confidence, resamples=resamples, seed=seed)
    return Comparison(float(differences.mean()), low, high, len(differences))


def _seeds_by_clips(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or not array.size:
        raise ShapeError(f"{name}: expected (clips,) or (seeds, clips), got shape {array.shape}")
    return array


def _group_index(groups, num_clips: int) -> tuple[np.ndarray, int]:
    groups = np.asarray(groups)
    if groups.shape != (num_clips,):
        raise ShapeError(f"groups: expected one id per clip ({num_clips},), got {groups.shape}")
    _, index = np.unique(groups, return_inverse=True)
    return index.reshape(-1), int(index.max()) + 1


def _crossed_bootstrap(
    values: np.ndarray, groups, *, confidence: float, resamples: int, seed: int
) -> Estimate:
    """Mean of ``values`` (seeds x clips) with seeds and clip groups resampled together.

    Every seed scores the same test clips, so seeds and groups are crossed, not nested: one
    resample draws S seeds and G groups with replacement, and its statistic is the mean over
    the drawn (seed, group) cells weighted by how often each was drawn (Owen's "pigeonhole"
    bootstrap). Drawing groups anew for each seed would treat a group's shared difficulty as
    independent across seeds and give too narrow an interval.
    """
    _check_confidence(confidence, resamples)
    num_seeds, num_clips = values.shape
    index, num_groups = _group_index(groups, num_clips)
    # Centred as in bootstrap_ci: constant data give a zero-width interval.
    mean = values.mean()
    group_sums = np.zeros((num_seeds, num_groups))  # S x G
    np.add.at(group_sums, (slice(None), index), values - mean)
    group_sizes = np.bincount(index, minlength=num_groups).astype(np.float64)  # G
    rng = np.random.default_rng(seed)
    group_draws = _resample_counts(rng, num_groups, resamples)
    statistics = []
    for group_counts in group_draws:  # chunk x G
        chunk = len(group_counts)
        if num_seeds > 1:
            seed_counts = _draw_counts(rng, num_seeds, chunk)
        else:
            seed_counts = np.ones((chunk, 1))
        # Weighted sum over cells: sum_s sum_g w_s v_g D[s, g]; clips drawn: S * sum_g v_g m_g.
        totals = ((seed_counts @ group_sums) * group_counts).sum(axis=1)
        statistics.append(totals / (num_seeds * (group_counts @ group_sizes)))
    low, high = _percentiles(np.concatenate(statistics), confidence)
    return Estimate(float(mean), float(mean + low), float(mean + high), num_groups)


def grouped_accuracy_ci(
    correct,
    groups,
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> Estimate:
    """Top-1 accuracy (%) with a cluster-bootstrap interval that resamples groups of clips.

    Args:
        correct: (clips,) or (seeds, clips) booleans (or 0/1): was each test clip right;
            with several seeds, seeds are resampled too (see :func:`grouped_paired_difference`).
        groups: (clips,) group ids (any hashable numpy dtype), e.g.
            :func:`imrkit.data.splits.clip_groups`.

    Returns:
        The accuracy in %, its interval, and ``n`` = the number of groups.
    """
    correct = _seeds_by_clips(correct, "correct")
    result = _crossed_bootstrap(
        correct, groups, confidence=confidence, resamples=resamples, seed=seed
    )
    return Estimate(100 * result.mean, 100 * result.low, 100 * result.high, result.n)


def grouped_paired_difference(
    correct_a,
    correct_b,
    groups,
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> Comparison:
    """Accuracy of arm A minus arm B (percentage points) over seeds and correlated clips.

    ``correct_a[s, i]`` and ``correct_b[s, i]`` are whether clip ``i`` was right in arm A and
    arm B run with seed ``s`` (same labelled clips, same test clips). The interval resamples
    seeds and clip groups at once (crossed design: every seed scores the same clips), so it
    accounts for both the seed-to-seed spread and the correlation of clips within a group.

    Returns:
        The mean difference in points, its interval, and ``n`` = the number of groups.
    """
    correct_a = _seeds_by_clips(correct_a, "correct_a")
    correct_b = _seeds_by_clips(correct_b, "correct_b")
    if correct_a.shape != correct_b.shape:
        raise ShapeError(
            f"correct_a {correct_a.shape} and correct_b {correct_b.shape} must pair up "
            "seed by seed and clip by clip"
        )
    result = _crossed_bootstrap(
        correct_a - correct_b, groups, confidence=confidence, resamples=resamples, seed=seed
    )
    return Comparison(100 * result.mean, 100 * result.low, 100 * result.high, result.n)


def intraclass_correlation(correct, groups) -> float:
    """ANOVA estimate of the intraclass correlation of per-clip correctness within groups.

    With clips ``y`` in G groups of sizes ``m_g`` (N clips):
    ``rho = (MSB - MSW) / (MSB + (m0 - 1) * MSW)``, where MSB and MSW are the between- and
    within-group mean squares and ``m0 = (N - sum m_g^2 / N) / (G - 1)`` the ANOVA's
    average group size. For (seeds, clips) input each seed's mean is removed first and the
    (seed, group) cells are the groups (seeds act as fixed blocks; degrees of freedom
    ``S (G - 1)`` between and ``S (N - G)`` within).

    Returns:
        rho (may be slightly negative by chance), or NaN when the correctness does not vary
        within seeds (all right or all wrong: nothing tells how clips co-vary) or when
        every group holds a single clip.
    """
    values = _seeds_by_clips(correct, "correct")
    num_seeds, num_clips = values.shape
    index, num_groups = _group_index(groups, num_clips)
    sizes = np.bincount(index, minlength=num_groups).astype(np.float64)  # G
    if num_groups < 2 or num_groups == num_clips:
        return float("nan")
    centred = values - values.mean(axis=1, keepdims=True)
    group_sums = np.zeros((num_seeds, num_groups))
    np.add.at(group_sums, (slice(None), index), centred)
    group_means = group_sums / sizes
    between = (sizes * group_means**2).sum() / (num_seeds * (num_groups - 1))
    within = ((centred - group_means[:, index]) ** 2).sum() / (num_seeds * (num_clips - num_groups))
    if between + within == 0:
        return float("nan")
    m0 = (num_clips - (sizes**2).sum() / num_clips) / (num_groups - 1)
    return float((between - within) / (between + (m0 - 1) * within))


def effective_sample_size(correct, groups) -> float:
    """Independent clips the test set is worth, after Kish's design effect.

    ``ESS = N / deff`` with ``deff = 1 + (m_w - 1) * rho``: ``rho`` the intraclass
    correlation of correctness (:func:`intraclass_correlation`, clipped to [0, 1]) and
    ``m_w = sum m_g^2 / N`` the clip-weighted mean group size (the group size when all
    groups are equal). Perfectly correlated groups give ESS = G (for equal groups),
    independent clips ESS = N.

    Args:
        correct: (clips,) or (seeds, clips) correctness; several seeds estimate rho better
            (a seed that is all right or all wrong carries no information about it).
        groups: (clips,) group ids.

    Returns:
        The ESS of the N test clips, or NaN when rho cannot be estimated.
    """
    values = _seeds_by_clips(correct, "correct")
    num_clips = values.shape[1]
    index, num_groups = _group_index(groups, num_clips)
    sizes = np.bincount(index, minlength=num_groups).astype(np.float64)
    weighted_size = (sizes**2).sum() / num_clips
    if weighted_size == 1:  # one clip per group: nothing to share
        return float(num_clips)
    rho = intraclass_correlation(values, groups)
    if np.isnan(rho):
        return float("nan")
    return float(num_clips / (1 + (weighted_size - 1) * min(max(rho, 0.0), 1.0)))
