"""fuzzykey.evaluation.pairs: which genuine and impostor comparisons an evaluation makes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzzykey.errors import InvalidArgument
from fuzzykey.evaluation.pairs import (
    check_pairs,
    first_photos,
    genuine_pairs,
    impostor_pairs,
    impostor_probes,
)

label_arrays = st.lists(st.integers(0, 5), min_size=0, max_size=30).map(lambda v: np.array(v, dtype=np.int64))


@given(label_arrays)
@settings(max_examples=60, deadline=None)
def test_genuine_pairs_are_every_same_person_pair_once(labels):
    pairs = genuine_pairs(labels)
    expected = {
        (i, j) for i in range(len(labels)) for j in range(i + 1, len(labels)) if labels[i] == labels[j]
    }
    assert pairs.shape == (len(expected), 2) and pairs.dtype == np.int64
    assert {(int(i), int(j)) for i, j in pairs} == expected


@given(label_arrays)
@settings(max_examples=60, deadline=None)
def test_impostor_pairs_all_of_them_when_few(labels):
    pairs, total = impostor_pairs(labels, 10_000, np.random.default_rng(0))
    expected = [(i, j) for i in range(len(labels)) for j in range(len(labels)) if labels[i] != labels[j]]
    assert total == len(expected)
    assert [(int(i), int(j)) for i, j in pairs] == expected  # row-major order


def test_impostor_pairs_sampled_when_many_are_cross_person_and_seeded():
    labels = np.repeat(np.arange(20), 5)
    pairs, total = impostor_pairs(labels, 300, np.random.default_rng(7))
    assert total == 100 * 100 - 20 * 25
    assert pairs.shape == (300, 2) and np.all(labels[pairs[:, 0]] != labels[pairs[:, 1]])
    again, _ = impostor_pairs(labels, 300, np.random.default_rng(7))
    np.testing.assert_array_equal(pairs, again)


def test_impostor_probes_draw_others_in_enrollee_order():
    labels = np.array([0, 0, 1, 1, 1, 2])
    probes = impostor_probes(labels, [0, 2, 5], 2, np.random.default_rng(3))
    assert [len(p) for p in probes] == [2, 2, 2]
    for enrollee, drawn in zip([0, 2, 5], probes, strict=True):
        assert np.all(labels[drawn] != labels[enrollee]) and len(set(drawn.tolist())) == len(drawn)
    # the same draws as one rng.choice per enrollee, in order
    replay = np.random.default_rng(3)
    for enrollee, drawn in zip([0, 2, 5], probes, strict=True):
        others = np.flatnonzero(labels != labels[enrollee])
        np.testing.assert_array_equal(drawn, replay.choice(others, size=2, replace=False))
    assert [len(p) for p in impostor_probes(labels, [5], 99, np.random.default_rng(0))] == [5]


def test_first_photos_keeps_people_with_two_or_more():
    labels = np.array([3, 1, 3, 3, 2, 1, 3])
    np.testing.assert_array_equal(first_photos(labels, 2), [True, True, True, False, False, True, False])
    np.testing.assert_array_equal(first_photos(labels, 10), [True, True, True, True, False, True, True])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: genuine_pairs(np.array([[0, 1]])), r"1-D integer array, got shape \(1, 2\)"),
        (lambda: genuine_pairs(np.array([0.0, 1.0])), "dtype float64"),
        (
            lambda: impostor_pairs(np.array([0, -1]), 5, np.random.default_rng(0)),
            "labels must be >= 0, got -1",
        ),
        (
            lambda: impostor_pairs(np.array([0, 1]), -3, np.random.default_rng(0)),
            "count must be >= 0, got -3",
        ),
        (lambda: impostor_probes(np.array([0, 1]), [2], 1, np.random.default_rng(0)), "rows 0..1, got 2"),
        (lambda: first_photos(np.array([0, 0]), 0), "per_person must be >= 1, got 0"),
        (lambda: check_pairs(np.array([[0, 1, 2]]), 3), r"\(P, 2\) array, got shape \(1, 3\)"),
        (lambda: check_pairs(np.array([[0, 4]]), 3), "rows 0..2, got 4"),
    ],
)
def test_bad_input_is_refused_with_the_value(call, match):
    with pytest.raises(InvalidArgument, match=match):
        call()
