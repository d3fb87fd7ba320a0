"""fuzzykey.evaluation.metrics: FNMR at an FMR, degrees of freedom and the Gaussian MI bound,
against hand-computed values and synthetic data with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from fuzzykey import InvalidArgument
from fuzzykey.evaluation.metrics import (
    degrees_of_freedom,
    fnmr_at_fmr,
    gaussian_mi_bits,
    threshold_at_fmr,
)


# --------------------------------------------------------------------------- fnmr_at_fmr
def test_fnmr_at_fmr_takes_the_lowest_qualifying_threshold() -> None:
    genuine, impostor = [0.2, 0.6, 0.7], [0.1, 0.5]
    # thresholds 0.1 (FMR 1), 0.2 (1/2), 0.5 (1/2), 0.6 (0), 0.7 (0); FNMR = genuine below
    assert fnmr_at_fmr(genuine, impostor, 0.5) == 0.0  # at 0.2, not at 0.7 (which gives 2/3)
    assert fnmr_at_fmr(genuine, impostor, 0.49) == pytest.approx(1 / 3)  # at 0.6
    assert fnmr_at_fmr(genuine, impostor, 0.0) == pytest.approx(1 / 3)
    assert fnmr_at_fmr(genuine, impostor, 1.0) == 0.0


def test_fnmr_at_fmr_when_no_threshold_qualifies() -> None:
    """The highest score is an impostor's: every observed threshold accepts it, so no
    threshold reaches an FMR of 0 (or below 1/2 here). The operating point is then above
    every score: every genuine attempt is rejected, FNMR = 1."""
    genuine, impostor = [0.5, 0.8], [0.3, 0.9]
    assert fnmr_at_fmr(genuine, impostor, 0.0) == 1.0
    assert fnmr_at_fmr(genuine, impostor, 0.4) == 1.0
    # the same threshold threshold_at_fmr reports: above every impostor score
    tau = threshold_at_fmr(genuine, impostor, 0.4)
    assert tau > 0.9 and float(np.mean(np.array(genuine) < tau)) == 1.0
    # as soon as one threshold qualifies, it is used
    assert fnmr_at_fmr(genuine, impostor, 0.5) == 0.0  # threshold 0.5: FMR 1/2, no genuine below
    # ties with the top impostor score do not qualify either
    assert fnmr_at_fmr([0.9, 0.9], [0.1, 0.9], 0.0) == 1.0


@pytest.mark.parametrize("target", [-0.01, 1.01, float("nan")])
def test_fnmr_at_fmr_target_range(target: float) -> None:
    with pytest.raises(InvalidArgument, match="target"):
        fnmr_at_fmr([0.9], [0.1], target)


def test_fnmr_at_fmr_refuses_empty_or_non_finite_scores() -> None:
    with pytest.raises(InvalidArgument, match="genuine must not be empty"):
        fnmr_at_fmr([], [0.1], 0.1)
    with pytest.raises(InvalidArgument, match="impostor contain NaN"):
        fnmr_at_fmr([0.9], [0.1, float("nan")], 0.1)


# --------------------------------------------------------------------------- degrees_of_freedom
def test_degrees_of_freedom_by_hand() -> None:
    # p = 0.5, population variance 0.01: 0.25 / 0.01
    assert degrees_of_freedom([0.4, 0.6]) == pytest.approx(25.0)
    # any shape is flattened: [0.2, 0.3, 0.4, 0.3], p = 0.3, variance 0.005: 0.21 / 0.005
    assert degrees_of_freedom(np.array([[0.2, 0.3], [0.4, 0.3]])) == pytest.approx(42.0)
    assert degrees_of_freedom([0.5, 0.5, 0.5]) == float("inf")  # no spread


def test_degrees_of_freedom_of_independent_coin_flips() -> None:
    """Fractions of N fair, independent bits that differ are Binomial(N, 1/2) / N:
    variance 1 / (4N), so the degrees of freedom are N."""
    rng = np.random.default_rng(0)
    for n in (50, 400):
        fractions = rng.binomial(n, 0.5, 200_000) / n
        assert degrees_of_freedom(fractions) == pytest.approx(n, rel=0.02)
    # correlated bits (blocks of 4 equal bits) behave like N / 4 coins
    fractions = rng.binomial(100, 0.5, 200_000) * 4 / 400
    assert degrees_of_freedom(fractions) == pytest.approx(100, rel=0.02)


def test_degrees_of_freedom_refuses_bad_input() -> None:
    with pytest.raises(InvalidArgument, match="must not be empty"):
        degrees_of_freedom([])
    with pytest.raises(InvalidArgument, match="NaN or infinity"):
        degrees_of_freedom([0.4, float("inf")])


# --------------------------------------------------------------------------- gaussian_mi_bits
def reference_mi_bits(between_var: np.ndarray, within_var: np.ndarray) -> float:
    """I(x1; x2) for x = mu + e, mu ~ N(0, diag(between_var)), e ~ N(0, diag(within_var)):
    independent dimensions, each a pair of Gaussians with correlation rho = b / (b + w)."""
    rho = between_var / (between_var + within_var)
    return float(-0.5 * np.sum(np.log2(1.0 - rho**2)))


def synthetic_people(rng: np.random.Generator, between_var: np.ndarray, within_var: np.ndarray,
                     counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = len(between_var)
    means = rng.standard_normal((len(counts), d)) * np.sqrt(between_var)
    labels = np.repeat(np.arange(len(counts)), counts)
    x = means[labels] + rng.standard_normal((len(labels), d)) * np.sqrt(within_var)
    return x, labels


def test_gaussian_mi_of_correlated_gaussians_matches_the_closed_form() -> None:
    rng = np.random.default_rng(20240611)
    between = np.array([4.0, 1.0, 0.25, 2.0, 0.5])
    within = np.array([1.0, 1.0, 1.0, 0.5, 2.0])
    want = reference_mi_bits(between, within)
    # a cross-check of the closed form itself: -1/2 log2(1 - rho^2) is the MI of a
    # bivariate normal pair, the log-ratio of the joint to the product of the marginals
    rho = between[0] / (between[0] + within[0])
    cov = np.array([[1.0, rho], [rho, 1.0]])
    pair = rng.multivariate_normal([0.0, 0.0], cov, 400_000)
    log_joint = -0.5 * np.einsum("ij,jk,ik->i", pair, np.linalg.inv(cov), pair) - 0.5 * np.log(
        np.linalg.det(cov)
    )
    log_marginals = -0.5 * (pair**2).sum(axis=1)
    assert float(np.mean(log_joint - log_marginals)) / np.log(2) == pytest.approx(
        -0.5 * np.log2(1 - rho**2), rel=0.02
    )

    counts = np.full(4000, 4)
    x, labels = synthetic_people(rng, between, within, counts)
    assert gaussian_mi_bits(x, labels) == pytest.approx(want, rel=0.05)
    # an invertible linear map (a random rotation and scaling) changes no information
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    mixed = (x @ q) * np.array([1.0, 10.0, 0.1, 3.0, 1.0])
    assert gaussian_mi_bits(mixed, labels) == pytest.approx(want, rel=0.05)
    # labels may be any hashable values, in any order
    perm = rng.permutation(len(labels))
    names = np.array([f"person-{i}" for i in labels])
    assert gaussian_mi_bits(x[perm], names[perm]) == pytest.approx(gaussian_mi_bits(x, labels), rel=1e-9)


def test_gaussian_mi_with_people_of_one_photo() -> None:
    """People with a single photo enter the between-person estimate only."""
    rng = np.random.default_rng(7)
    between, within = np.full(3, 1.0), np.full(3, 1.0)  # rho = 1/2 in each dimension
    counts = np.concatenate([np.full(3000, 3), np.full(3000, 1)])
    x, labels = synthetic_people(rng, between, within, counts)
    want = reference_mi_bits(between, within)
    assert want == pytest.approx(-1.5 * np.log2(0.75))
    assert gaussian_mi_bits(x, labels) == pytest.approx(want, rel=0.05)
    # no identity information at all: 0 bits (up to the estimate's noise)
    noise = rng.standard_normal((6000, 3))
    assert gaussian_mi_bits(noise, np.repeat(np.arange(2000), 3)) < 0.02


def test_gaussian_mi_min_images() -> None:
    """With min_images = 3 the within-person covariance comes from people with 3 or more
    photos only; people with 2 still enter the between-person estimate."""
    rng = np.random.default_rng(11)
    between, within = np.array([2.0, 0.5, 1.0]), np.array([1.0, 1.0, 0.25])
    counts = np.concatenate([np.full(3000, 2), np.full(1500, 4)])
    x, labels = synthetic_people(rng, between, within, counts)
    want = reference_mi_bits(between, within)
    assert gaussian_mi_bits(x, labels, min_images=3) == pytest.approx(want, rel=0.05)
    assert gaussian_mi_bits(x, labels, min_images=2) == pytest.approx(want, rel=0.05)


def test_gaussian_mi_refuses_bad_input() -> None:
    x = np.random.default_rng(1).standard_normal((10, 4))
    with pytest.raises(InvalidArgument, match="disagree"):
        gaussian_mi_bits(x, np.arange(9))
    with pytest.raises(InvalidArgument, match="disagree"):
        gaussian_mi_bits(x[0], np.arange(4))
    # 5 people of 2 photos: 5 degrees of freedom for a 4-D within covariance is enough ...
    assert np.isfinite(gaussian_mi_bits(x, np.repeat(np.arange(5), 2)))
    # ... 3 are not (three people of 2 photos, the rest alone)
    with pytest.raises(InvalidArgument, match="too few repeated images"):
        gaussian_mi_bits(x, np.array([0, 0, 1, 1, 2, 2, 3, 4, 5, 6]))
    # min_images raises the bar: nobody has 3 photos
    with pytest.raises(InvalidArgument, match="too few repeated images"):
        gaussian_mi_bits(x, np.repeat(np.arange(5), 2), min_images=3)
