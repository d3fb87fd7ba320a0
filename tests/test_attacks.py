"""fuzzykey.evaluation.attacks: the dictionary attack's counting and the face-only structural attack.

Everything works on embeddings (no face model is loaded): enrolled embeddings
are random unit vectors, a dictionary entry either is an enrolled embedding
(it certainly gives the key: the same bits, no errors) or another random vector
(it certainly does not: about half of its bits differ, far beyond t).
"""

from __future__ import annotations

import numpy as np
import pytest

from fuzzykey import BCHCode, HelperData, InvalidArgument, KeyGen, PipelineMismatch
from fuzzykey.binarizers import default_center, public_projections
from fuzzykey.evaluation.attacks import (
    DictionaryAttackResult,
    StructuralAttackResult,
    dictionary_attack,
    structural_attack,
)

DIM = 128
SECRETS = [bytes([i]) * 32 for i in range(1, 5)]


def unit(seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal(DIM)
    return (x / np.linalg.norm(x)).astype(np.float32)


@pytest.fixture(scope="module")
def kg() -> KeyGen:
    return KeyGen()


# --------------------------------------------------------------------------- dictionary attack
ALICE, BOB, CAROL, DAVE = unit(1), unit(2), unit(3), unit(4)
# The dictionary in guessing order, with a label per entry.
DICTIONARY = [
    (unit(100), "u0"),
    (BOB, "bob"),
    (unit(101), "u1"),
    (ALICE, "alice"),
    (CAROL, "carol"),
    (ALICE, "alice"),  # a second hit for Alice: only the first counts
    (unit(102), "u2"),
]


@pytest.fixture(scope="module")
def victims(kg: KeyGen) -> tuple[list[bytes], list[bytes | None]]:
    """Alice and Bob enrolled with their secrets, Carol face-only, Dave (not in the
    dictionary) with a secret; the attacker holds every secret."""
    secrets: list[bytes | None] = [SECRETS[0], SECRETS[1], None, SECRETS[3]]
    helpers = [kg.enroll_embedding(x, secret=s).helper for x, s in zip((ALICE, BOB, CAROL, DAVE), secrets,
                                                                        strict=True)]
    return helpers, secrets


def test_guesses_are_counted_from_one_in_dictionary_order(kg: KeyGen, victims) -> None:
    helpers, secrets = victims
    emb = np.stack([x for x, _ in DICTIONARY])
    result = dictionary_attack(kg, helpers, emb, secrets=secrets)
    assert isinstance(result, DictionaryAttackResult)
    # Alice falls at entry 4 (not 6), Bob at 2, Carol (face-only, no secret) at 5, Dave never
    np.testing.assert_array_equal(result.guesses_to_success, [4, 2, 5, 0])
    assert result.guesses_to_success.dtype == np.int64
    assert result.dictionary_size == 7
    # the attack is exactly "try each entry in order": the first entry that reproduces each key
    for helper, secret, got in zip(helpers, secrets, result.guesses_to_success, strict=True):
        keys = kg.reproduce_embeddings(emb, helper, secret=secret)
        hits = [j for j, key in enumerate(keys) if key is not None]
        assert got == (hits[0] + 1 if hits else 0)
    # HelperData objects work as well as bytes
    parsed = [HelperData.from_bytes(h) for h in helpers]
    np.testing.assert_array_equal(
        dictionary_attack(kg, parsed, emb, secrets=secrets).guesses_to_success, [4, 2, 5, 0]
    )


def test_without_the_secrets_no_secret_helper_falls(kg: KeyGen, victims) -> None:
    helpers, _ = victims
    emb = np.stack([x for x, _ in DICTIONARY])
    # face-only Carol still falls; the secret helpers need a secret: without one it is a pipeline error
    np.testing.assert_array_equal(dictionary_attack(kg, helpers[2:3], emb).guesses_to_success, [5])
    with pytest.raises(PipelineMismatch, match="secret"):
        dictionary_attack(kg, helpers[:1], emb)
    wrong = [SECRETS[1], SECRETS[0], None, SECRETS[3]]  # Alice's and Bob's secrets swapped
    np.testing.assert_array_equal(dictionary_attack(kg, helpers, emb, secrets=wrong).guesses_to_success,
                                  [0, 0, 5, 0])


def test_exclude_skips_the_enrollees_own_entries(kg: KeyGen, victims) -> None:
    helpers, secrets = victims
    emb = np.stack([x for x, _ in DICTIONARY])
    labels = [label for _, label in DICTIONARY]
    result = dictionary_attack(kg, helpers, emb, secrets=secrets, exclude=["bob", "bob", "u0", "bob"],
                               dictionary_labels=labels)
    # Alice: "bob" (entry 2) skipped, so her own entry is the 3rd guess; Bob: his only entry
    # skipped, never; Carol: "u0" (entry 1) skipped, 4th guess; Dave: never
    np.testing.assert_array_equal(result.guesses_to_success, [3, 0, 4, 0])
    assert result.dictionary_size == 7  # the whole dictionary, whatever was skipped
    # excluding a label no entry has changes nothing
    same = dictionary_attack(kg, helpers, emb, secrets=secrets, exclude=["zed"] * 4,
                             dictionary_labels=np.array(labels))
    np.testing.assert_array_equal(same.guesses_to_success, [4, 2, 5, 0])
    # excluding the enrollee's own label: nobody falls to their own photo
    own = dictionary_attack(kg, helpers, emb, secrets=secrets, exclude=["alice", "bob", "carol", "dave"],
                            dictionary_labels=labels)
    np.testing.assert_array_equal(own.guesses_to_success, [0, 0, 0, 0])


def test_success_rate_and_curve() -> None:
    result = DictionaryAttackResult(np.array([4, 2, 5, 0], dtype=np.int64), 7)
    assert [result.success_rate(g) for g in (0, 1, 2, 3, 4, 5, 7, 100)] == [
        0.0, 0.0, 0.25, 0.25, 0.5, 0.75, 0.75, 0.75
    ]
    # powers of two up to the dictionary size, and the size itself
    assert result.curve() == [(1, 0.0), (2, 0.25), (4, 0.5), (7, 0.75)]
    assert result.curve([3, 5]) == [(3, 0.25), (5, 0.75)]
    assert DictionaryAttackResult(np.array([1, 8]), 8).curve() == [(1, 0.5), (2, 0.5), (4, 0.5), (8, 1.0)]
    assert DictionaryAttackResult(np.zeros(0, np.int64), 3).success_rate(3) == 0.0
    # 0 means "never": never counted as a success, whatever the number of guesses
    assert DictionaryAttackResult(np.array([0, 0]), 4).success_rate(10**9) == 0.0


def test_dictionary_attack_validates(kg: KeyGen, victims) -> None:
    helpers, secrets = victims
    emb = np.stack([x for x, _ in DICTIONARY])
    labels = [label for _, label in DICTIONARY]
    with pytest.raises(InvalidArgument, match="secrets needs one entry per helper: 4 helpers, 3 secrets"):
        dictionary_attack(kg, helpers, emb, secrets=secrets[:3])
    with pytest.raises(InvalidArgument, match="exclude needs dictionary_labels"):
        dictionary_attack(kg, helpers, emb, secrets=secrets, exclude=["x"] * 4)
    with pytest.raises(InvalidArgument, match="exclude needs dictionary_labels"):
        dictionary_attack(kg, helpers, emb, secrets=secrets, exclude=["x"] * 4, dictionary_labels=labels[:-1])
    with pytest.raises(InvalidArgument, match="exclude needs dictionary_labels"):
        dictionary_attack(kg, helpers, emb, secrets=secrets, exclude=["x"] * 3, dictionary_labels=labels)
    with pytest.raises(InvalidArgument, match="dictionary"):
        dictionary_attack(kg, helpers, emb[:, :100], secrets=secrets)


# --------------------------------------------------------------------------- structural attack, face only
# BCH(1023, t=255): the largest t with more than one message bit, k = 11: 2048 codewords.
TINY = BCHCode(10, 255)


@pytest.fixture(scope="module")
def tiny_kg() -> KeyGen:
    assert (TINY.n, TINY.k) == (1023, 11) and BCHCode(10, 256).k == 1
    return KeyGen(face_code=TINY)


def face_bits(emb: np.ndarray) -> np.ndarray:
    """The face-only bits from first principles: signs of the public projections of the
    centred, normalized direction of ``emb``."""
    x = emb.astype(np.float64) / np.linalg.norm(emb)
    c = x - default_center().values.astype(np.float64)
    return (public_projections(1023, DIM).astype(np.float64) @ (c / np.linalg.norm(c)) > 0).astype(np.uint8)


def test_enumeration_recovers_a_tiny_face_only_key(tiny_kg: KeyGen) -> None:
    emb = unit(7)
    key, helper = tiny_kg.enroll_scheme(emb, "face-only")
    result = structural_attack(tiny_kg, helper, budget=1 << TINY.k)  # exactly enough
    assert isinstance(result, StructuralAttackResult)
    assert result.mode == "face-only" and result.method == "codeword enumeration"
    assert result.key == key
    assert result.work_bits == 11.0
    assert 1 <= result.guesses <= 1 << TINY.k
    assert result.bits is not None
    np.testing.assert_array_equal(result.bits, face_bits(emb))  # the enrolled bits themselves
    assert "recovered" in repr(result) and key.hex() not in repr(result)
    # the default budget (2^20) covers 2^11 too
    assert structural_attack(tiny_kg, helper).key == key


def test_enumeration_over_budget_reports_the_work(tiny_kg: KeyGen) -> None:
    _, helper = tiny_kg.enroll_scheme(unit(8), "face-only")
    result = structural_attack(tiny_kg, helper, budget=(1 << TINY.k) - 1)
    assert result.key is None and result.bits is None and result.guesses == 0
    assert result.work_bits == 11.0
    assert "2^11" in result.method and "budget" in result.method
    # the default face-only code: k = 36 bits, over the default budget of 2^20
    kg = KeyGen()
    _, helper = kg.enroll_scheme(unit(8), "face-only")
    result = structural_attack(kg, helper)
    assert (result.key, result.bits, result.guesses, result.work_bits) == (None, None, 0, 36.0)


@pytest.mark.parametrize("budget", [0, -1, 1.5, "1024"])
def test_enumeration_budget_is_checked(tiny_kg: KeyGen, budget) -> None:
    _, helper = tiny_kg.enroll_scheme(unit(9), "face-only")
    with pytest.raises(InvalidArgument, match="budget"):
        structural_attack(tiny_kg, helper, budget=budget)
