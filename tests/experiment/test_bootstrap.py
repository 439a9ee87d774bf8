"""Bootstrap intervals, paired differences and grouped statistics on data with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from imrkit.data.splits import clip_groups
from imrkit.errors import ConfigError, ShapeError
from imrkit.experiment.bootstrap import (
    bootstrap_ci,
    effective_sample_size,
    format_ci,
    grouped_accuracy_ci,
    grouped_paired_difference,
    intraclass_correlation,
    paired_difference,
)


def correlated_clips(num_groups: int, group_size: int, seed: int = 0):
    """Correctness constant within each group (a group is right or wrong as a whole)."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(num_groups), group_size)
    return np.repeat(rng.random(num_groups) < 0.5, group_size), groups


def test_bootstrap_ci_of_normal_samples():
    # Mean 5, sd 2, n = 400: the 95% interval is about 2 * 1.96 * 2 / 20 = 0.392 wide.
    values = np.random.default_rng(1).normal(5.0, 2.0, 400)
    low, high = bootstrap_ci(values)
    assert low < 5.0 < high
    assert high - low == pytest.approx(2 * 1.96 * 2.0 / 20, rel=0.1)
    assert low < values.mean() < high
    assert bootstrap_ci(values) == (low, high)  # deterministic given the seed
    assert bootstrap_ci(values, seed=1) != (low, high)
    narrow = bootstrap_ci(values, confidence=0.5)
    assert low < narrow[0] < narrow[1] < high


def test_bootstrap_ci_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(2)
    covered = [
        low < 0.0 < high
        for low, high in (
            bootstrap_ci(rng.normal(0.0, 1.0, 50), resamples=2000, seed=i) for i in range(200)
        )
    ]
    # Percentile intervals undercover slightly at n = 50; 200 trials: sd of the rate 0.015.
    assert 0.89 <= np.mean(covered) <= 0.99


def test_constant_sample_gives_a_zero_width_interval():
    assert bootstrap_ci([0.1] * 7) == (0.1, 0.1)
    assert bootstrap_ci([3.0]) == (3.0, 3.0)


def test_paired_difference_of_a_shift_is_the_shift():
    a = np.random.default_rng(3).normal(50.0, 10.0, 5)
    result = paired_difference(a + 2.5, a)
    assert result.n == 5
    for value in (result.mean, result.low, result.high):
        assert value == pytest.approx(2.5, abs=1e-9)
    assert result.excludes_zero


def test_paired_difference_uses_the_pairing():
    # Arms with a large seed-to-seed spread but a steady +1 gain: pairing removes the spread.
    base = np.array([10.0, 40.0, 20.0, 60.0, 30.0])
    gains = np.array([0.8, 1.2, 0.9, 1.1, 1.0])
    result = paired_difference(base + gains, base)
    assert result.mean == pytest.approx(1.0)
    assert 0.8 <= result.low < 1.0 < result.high <= 1.2
    unpaired = bootstrap_ci(base + gains)
    assert unpaired[1] - unpaired[0] > 10 * (result.high - result.low)
    assert not paired_difference(base, base + gains[::-1] - 1.0).excludes_zero


def test_invalid_inputs_raise_project_errors():
    with pytest.raises(ShapeError, match="pair up"):
        paired_difference([1.0, 2.0], [1.0])
    with pytest.raises(ShapeError):
        bootstrap_ci([])
    with pytest.raises(ConfigError, match="confidence"):
        bootstrap_ci([1.0, 2.0], confidence=95)
    with pytest.raises(ShapeError, match="groups"):
        grouped_accuracy_ci([True, False], [0, 0, 1])


def test_format_ci():
    assert format_ci(12.34, 8.06, 16.0) == "12.3 [8.1, 16.0]"
    assert format_ci(2.5, -6.2, 10.0, signed=True) == "+2.5 [-6.2, +10.0]"
    assert format_ci(-0.04, -1.2, 0.4, signed=True) == "+0.0 [-1.2, +0.4]"  # no "-0.0"
    assert format_ci(-1.0, -2.25, 0.5, digits=2) == "-1.00 [-2.25, 0.50]"
    assert str(paired_difference([3.0, 3.0], [1.0, 1.0])) == "2.0 [2.0, 2.0]"


def test_grouped_interval_is_wider_than_the_naive_one_for_correlated_groups():
    correct, groups = correlated_clips(num_groups=40, group_size=5)
    grouped = grouped_accuracy_ci(correct, groups)
    naive_low, naive_high = bootstrap_ci(100.0 * correct)
    assert grouped.mean == pytest.approx(100.0 * correct.mean())
    assert grouped.n == 40
    assert grouped.low < grouped.mean < grouped.high
    # 40 independent units instead of 200: sqrt(5) = 2.2 times wider.
    ratio = (grouped.high - grouped.low) / (naive_high - naive_low)
    assert 1.8 < ratio < 2.8


def test_grouped_interval_matches_the_naive_one_for_independent_clips():
    rng = np.random.default_rng(4)
    correct = rng.random(600) < 0.5
    groups = np.repeat(np.arange(200), 3)
    grouped = grouped_accuracy_ci(correct, groups)
    naive_low, naive_high = bootstrap_ci(100.0 * correct)
    assert 0.8 < (grouped.high - grouped.low) / (naive_high - naive_low) < 1.25


def test_grouped_paired_difference_resamples_groups():
    # Arm A is always right; arm B is right on the groups of `correct` only, on every seed.
    correct, groups = correlated_clips(num_groups=30, group_size=4, seed=5)
    arm_b = np.tile(correct, (5, 1))
    result = grouped_paired_difference(np.ones_like(arm_b), arm_b, groups)
    assert result.mean == pytest.approx(100.0 * (1 - correct.mean()))
    assert result.n == 30 and result.excludes_zero
    # Same spread as one arm's grouped accuracy: identical seeds add nothing.
    single = grouped_accuracy_ci(correct, groups)
    assert result.high - result.low == pytest.approx(single.high - single.low, rel=0.15)
    zero = grouped_paired_difference(arm_b, arm_b, groups)
    assert (zero.mean, zero.low, zero.high) == (0.0, 0.0, 0.0)


def test_grouped_paired_difference_resamples_seeds():
    # Each seed's difference is the same on every clip (so groups carry no spread), but
    # varies over seeds: the interval is the seeds' bootstrap interval.
    seed_gains = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0])  # of all clips, per seed
    groups = np.repeat(np.arange(10), 3)
    arm_a = np.tile(seed_gains[:, None], (1, 30))
    result = grouped_paired_difference(arm_a, np.zeros_like(arm_a), groups)
    low, high = bootstrap_ci(100.0 * seed_gains)
    assert result.mean == pytest.approx(62.5)
    assert result.high - result.low == pytest.approx(high - low, rel=0.2)
    assert result.low == pytest.approx(low, abs=13) and result.high == pytest.approx(high, abs=13)


def test_perfectly_correlated_groups_are_worth_one_sample_each():
    correct, groups = correlated_clips(num_groups=25, group_size=4, seed=6)
    assert intraclass_correlation(correct, groups) == pytest.approx(1.0)
    assert effective_sample_size(correct, groups) == pytest.approx(25.0)
    # Unequal groups: ESS = N / m_w with m_w = sum m_g^2 / N (sizes 1, 2 and 5: 30 / 8).
    sizes = np.array([1, 2, 5])
    groups = np.repeat(np.arange(3), sizes)
    correct = np.repeat([True, False, True], sizes)
    assert effective_sample_size(correct, groups) == pytest.approx(8 / (30 / 8))


def test_independent_clips_are_worth_one_sample_each():
    rng = np.random.default_rng(7)
    correct = rng.random(3000) < 0.6
    groups = np.repeat(np.arange(1000), 3)
    assert abs(intraclass_correlation(correct, groups)) < 0.05
    assert effective_sample_size(correct, groups) > 0.9 * 3000
    # One clip per group: nothing shared, ESS is N.
    assert effective_sample_size(correct[:10], np.arange(10)) == 10.0


def test_intraclass_correlation_of_a_known_mixture():
    # Half the groups are easy (p = 0.8), half hard (p = 0.2): the share of the variance of
    # correctness between groups is var(p) / (p (1 - p)) = 0.09 / 0.25 = 0.36.
    rng = np.random.default_rng(8)
    p = np.repeat(np.where(np.arange(2000) % 2, 0.8, 0.2), 4)
    groups = np.repeat(np.arange(2000), 4)
    correct = rng.random(8000) < p
    assert intraclass_correlation(correct, groups) == pytest.approx(0.36, abs=0.04)
    # Design effect 1 + 3 * 0.36 = 2.08.
    assert effective_sample_size(correct, groups) == pytest.approx(8000 / 2.08, rel=0.06)
    # Over seeds: each seed's own level is removed before estimating rho.
    seeds = np.stack([correct, rng.random(8000) < p * 0.5])
    assert intraclass_correlation(seeds, groups) == pytest.approx(0.3, abs=0.08)


def test_effective_sample_size_needs_variation():
    groups = np.repeat(np.arange(10), 3)
    assert np.isnan(effective_sample_size(np.zeros(30, bool), groups))
    # A second seed that varies within groups makes it estimable.
    correct, _ = correlated_clips(num_groups=10, group_size=3, seed=9)
    both = np.stack([np.zeros(30, bool), correct])
    assert effective_sample_size(both, groups) == pytest.approx(10.0)


def test_clip_groups_from_ucf101_names():
    paths = [
        "data/MoveLeft/v_MoveLeft_g01_c01.avi",
        "data/MoveLeft/v_MoveLeft_g01_c02.avi",
        "data/MoveLeft/v_MoveLeft_g02_c01.avi",
        "data/Move_Right/v_Move_Right_g01_c01.avi",  # another class's g01 is another group
        "data/other.avi",
        "data/other2.avi",
    ]
    assert clip_groups(paths).tolist() == [0, 0, 1, 2, 3, 4]
