"""fuzzykey.evaluation.operating_points: the t sweep, the quoted operating point, -log2 FAR."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fuzzykey import BCHCode
from fuzzykey.errors import InvalidArgument
from fuzzykey.evaluation.operating_points import FAR_TARGET, best_point, error_rate_sweep, far_bits, point_at


def test_sweep_matches_counting_by_hand():
    rng = np.random.default_rng(5)
    code = BCHCode(10, 155)
    gen, imp = rng.integers(0, 400, 500), rng.integers(300, 600, 2000)
    curve = error_rate_sweep(code, gen, imp)
    assert [p["t"] for p in curve] == list(range(1, len(curve) + 1))
    assert curve[-1]["t"] == 510  # up to 2^(m-1) - 2
    for p in curve[::37]:
        assert p["k"] == BCHCode(10, p["t"]).k
        assert p["frr"] == pytest.approx(np.mean(gen > p["t"]), abs=1e-15)
        assert p["far"] == np.mean(imp <= p["t"])


def test_sweep_of_a_shortened_code_stops_where_the_family_ends():
    code = BCHCode(6, 2, 40)
    curve = error_rate_sweep(code, np.array([3]), np.array([30]))
    assert curve[-1]["t"] == BCHCode.max_t(6, 40) and all(p["k"] >= 1 for p in curve)


def test_best_point_lowest_frr_under_the_far_target_ties_to_larger_k():
    curve = [
        {"t": 1, "k": 50, "frr": 0.40, "far": 0.0},
        {"t": 2, "k": 40, "frr": 0.10, "far": 0.0005},
        {"t": 3, "k": 30, "frr": 0.10, "far": 0.0010},  # same FRR, smaller k: loses the tie
        {"t": 4, "k": 20, "frr": 0.05, "far": 0.0011},  # lowest FRR, FAR above 0.1 %
    ]
    assert FAR_TARGET == 1e-3
    assert best_point(curve) == curve[1]
    assert best_point(curve, far_target=0.002) == curve[3]
    assert best_point(curve, far_target=0.0) == curve[0]
    assert best_point(curve[3:]) is None and best_point([]) is None
    with pytest.raises(InvalidArgument, match="far_target must be in"):
        best_point(curve, far_target=1.5)


def test_point_at_names_the_missing_t():
    curve = error_rate_sweep(BCHCode(5, 1), np.array([1, 2]), np.array([9]))
    assert point_at(curve, 3)["k"] == BCHCode(5, 3).k
    with pytest.raises(InvalidArgument, match=r"no point at t = 99 \(it has t = 1..14\)"):
        point_at(curve, 99)


def test_far_bits_and_the_rule_of_three():
    assert far_bits(0.25, 8) == (2.0, False)
    bits, bound = far_bits(0.0, 3000)
    assert bound and bits == pytest.approx(math.log2(1000))
    for far, n, match in ((-0.1, 10, "far must be in"), (0.1, 0, "n_impostor must be >= 1, got 0")):
        with pytest.raises(InvalidArgument, match=match):
            far_bits(far, n)


@pytest.mark.parametrize("gen, imp", [(np.array([]), np.array([1])), (np.array([1.5]), np.array([1]))])
def test_sweep_refuses_empty_or_non_integer_distances(gen, imp):
    with pytest.raises(InvalidArgument, match="gen must be a non-empty 1-D integer array"):
        error_rate_sweep(BCHCode(5, 1), gen, imp)
