"""fuzzykey.evaluation.distances: bulk Hamming distances equal the bits KeyGen's binarizers give."""

from __future__ import annotations

import numpy as np
import pytest

from fuzzykey import BCHCode, KeyGen
from fuzzykey.binarizers import SecretSelectBinarizer, SignBinarizer
from fuzzykey.errors import InvalidArgument
from fuzzykey.evaluation.distances import face_distances, key_distances, secret_distances


def test_secret_distances_match_keygen_bits():
    """The benchmark's fast distance path computes the same bits as KeyGen's binarizer."""
    psi = SecretSelectBinarizer(255, 2048)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 128)).astype(np.float32)
    pairs = np.array([[0, 1], [0, 2], [3, 4], [5, 0]])
    seeds = np.random.default_rng(9)
    got = secret_distances(psi, x, pairs, seeds)
    # rebuild each enrollee's rotation from the same random stream and compare with the binarizer
    replay = np.random.default_rng(9)
    expected = np.empty(len(pairs), dtype=np.int32)
    for enrollee in (0, 3, 5):  # the order secret_distances visits enrollees (sorted)
        seed = replay.bytes(32)
        bits, sel = psi.enroll(x[enrollee][None], [seed])
        for row in np.flatnonzero(pairs[:, 0] == enrollee):
            probe, _ = psi.reproduce(x[pairs[row, 1]][None], [seed], sel[0].astype(np.int64))
            expected[row] = int(np.count_nonzero(probe[0] != bits[0]))
    np.testing.assert_array_equal(got, expected)
    assert len(secret_distances(psi, x, np.zeros((0, 2), np.int64), seeds)) == 0


def test_face_distances_match_sign_bits():
    psi = SignBinarizer(255)
    x = np.random.default_rng(1).standard_normal((5, 128)).astype(np.float32)
    pairs = np.array([[0, 1], [2, 2], [4, 3]])
    bits, _ = psi.bits(x)
    expected = [int(np.count_nonzero(bits[a] != bits[b])) for a, b in pairs]
    assert face_distances(psi, x, pairs).tolist() == expected


def test_key_distances_picks_the_mode_and_draws_only_for_the_secret():
    kg = KeyGen(
        secret_binarizer=SecretSelectBinarizer(255, 2048),
        secret_code=BCHCode(8, 20),
        face_binarizer=SignBinarizer(255),
        face_code=BCHCode(8, 20),
    )
    x = np.random.default_rng(2).standard_normal((4, 128)).astype(np.float32)
    pairs = np.array([[0, 1], [2, 3]])
    rng = np.random.default_rng(4)
    np.testing.assert_array_equal(
        key_distances(kg, "face-only", x, pairs, rng), face_distances(kg.face_binarizer, x, pairs)
    )
    untouched = np.random.default_rng(4)
    assert rng.bytes(8) == untouched.bytes(8)
    np.testing.assert_array_equal(
        key_distances(kg, "secret", x, pairs, np.random.default_rng(6)),
        secret_distances(kg.secret_binarizer, x, pairs, np.random.default_rng(6)),
    )


def test_key_distances_names_a_binarizer_it_has_no_model_for():
    class Other(SignBinarizer):
        uses_secret = True  # a secret binarizer the distance shortcut does not know

    kg = KeyGen(secret_binarizer=Other(1023))
    with pytest.raises(InvalidArgument, match="the secret mode has Other"):
        key_distances(
            kg, "secret", np.ones((2, 128), np.float32), np.array([[0, 1]]), np.random.default_rng(0)
        )


@pytest.mark.parametrize(
    "x, pairs, match",
    [
        (np.ones((3, 64), np.float32), np.array([[0, 1]]), r"shape \(N, 128\)"),
        (np.ones((3, 128), np.float32), np.array([[0, 3]]), "rows 0..2, got 3"),
    ],
)
def test_bad_arrays_are_refused(x, pairs, match):
    with pytest.raises(InvalidArgument, match=match):
        secret_distances(SecretSelectBinarizer(255, 2048), x, pairs, np.random.default_rng(0))
