"""fuzzykey.evaluation.linkability: the unlinkability metric of Gomez-Barrero et al. (TIFS 2018) and the
linkage scores of KeyGen's two modes."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzzykey import KeyGen
from fuzzykey.binarizers import SecretSelectBinarizer, rotate
from fuzzykey.errors import InvalidArgument, InvalidHelperData, PipelineMismatch
from fuzzykey.evaluation.linkability import (
    DEFAULT_BINS,
    dsys,
    face_only_linkage_score,
    face_only_linkage_scores,
    local_dsys,
    secret_helper_directions,
    secret_linkage_score,
    secret_linkage_scores,
)
from fuzzykey.header import read_helper_header

SECRET = bytes(range(32))

# -- the metric ---------------------------------------------------------------------


def test_same_distribution_is_unlinkable() -> None:
    rng = np.random.default_rng(0)
    value = dsys(rng.normal(0, 1, 100_000), rng.normal(0, 1, 100_000))
    assert value < 0.05  # measured 0.006


def test_disjoint_distributions_are_fully_linkable() -> None:
    rng = np.random.default_rng(1)
    assert dsys(rng.normal(10, 1, 5000), rng.normal(-10, 1, 5000)) > 0.95
    assert dsys([0.9, 0.95, 1.0], [0.0, 0.1, 0.2]) == pytest.approx(1.0)
    # direction does not matter: mated scores below the non-mated ones link just as well
    assert dsys([0.0, 0.1, 0.2], [0.9, 0.95, 1.0]) == pytest.approx(1.0)


def test_monotone_in_separation() -> None:
    rng = np.random.default_rng(2)
    nonmated = rng.normal(0, 1, 20_000)
    values = [dsys(rng.normal(shift, 1, 20_000), nonmated) for shift in (0.0, 0.5, 1.0, 2.0, 3.0, 5.0)]
    # measured 0.015, 0.13, 0.30, 0.62, 0.83, 0.985
    assert values[0] < 0.05
    assert all(b > a for a, b in zip(values[:-1], values[1:], strict=True))
    assert 0.2 < values[2] < 0.4
    assert values[-1] > 0.95


def test_negated_scores_give_the_same_value() -> None:
    rng = np.random.default_rng(3)
    m, nm = rng.normal(1.5, 1, 5000), rng.normal(0, 2, 5000)
    assert dsys(-m, -nm) == pytest.approx(dsys(m, nm), abs=1e-12)


def test_omega() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(0, 1, 100_000), rng.normal(0, 1, 100_000)
    # LR ~ 1 everywhere: D = (omega - 1) / (omega + 1) where omega > 1
    assert dsys(a, b, omega=3.0) == pytest.approx(0.5, abs=0.02)
    assert dsys(a, b, omega=0.25) < 0.001  # only tail bins where LR > 4 by chance
    m, nm = rng.normal(1, 1, 20_000), rng.normal(0, 1, 20_000)
    values = [dsys(m, nm, omega=w) for w in (0.1, 0.5, 1.0, 2.0, 10.0)]
    assert all(b >= a for a, b in zip(values[:-1], values[1:], strict=True))
    assert values[-1] > values[0] + 0.3
    # disjoint supports: D = 1 whatever the prior
    assert dsys([1.0, 1.0], [0.0, 0.0], omega=1e-3) == 1.0


def test_local_dsys_grid_and_range() -> None:
    rng = np.random.default_rng(5)
    m, nm = rng.normal(1, 1, 3000), rng.normal(0, 1, 3000)
    centres, d = local_dsys(m, nm)
    assert centres.shape == d.shape == (DEFAULT_BINS,)
    assert np.all(np.diff(centres) > 0)
    assert centres[0] > min(m.min(), nm.min()) and centres[-1] < max(m.max(), nm.max())
    assert np.all((d >= 0) & (d <= 1))
    assert d[:10].max() < 0.5 < d[-10:].max()  # linkable at high scores only
    centres, d = local_dsys([1.5, 2.0], [0.0, 0.5], bins=2)
    assert centres.tolist() == [0.5, 1.5] and d.tolist() == [0.0, 1.0]
    centres, d = local_dsys(m, nm, bins=7)
    assert centres.shape == (7,)


def test_local_dsys_formula() -> None:
    # two bins: mated 3/4 and 1/4, non-mated 1/4 and 3/4 -> LR = 3 and 1/3
    m = [0.0, 0.0, 0.0, 1.0]
    nm = [0.0, 1.0, 1.0, 1.0]
    _, d = local_dsys(m, nm, bins=2)
    assert d.tolist() == pytest.approx([0.5, 0.0])  # 2 * 3 / 4 - 1
    _, d = local_dsys(m, nm, bins=2, omega=3.0)
    assert d.tolist() == pytest.approx([0.8, 0.0])  # LR * omega = 9: 2 * 9 / 10 - 1; 1 is not > 1
    assert dsys(m, nm, bins=2) == pytest.approx(0.75 * 0.5)


def test_all_scores_equal() -> None:
    assert dsys([2.0] * 5, [2.0] * 7) == 0.0
    assert dsys([2.0] * 5, [2.0] * 7, omega=3.0) == pytest.approx(0.5)
    centres, d = local_dsys([2.0], [2.0], bins=3)
    assert centres.tolist() == pytest.approx([2.0 - 1 / 3, 2.0, 2.0 + 1 / 3]) and d.tolist() == [0, 0, 0]


def _reference_trapezoid(m: np.ndarray, nm: np.ndarray, omega: float, n_bins: int) -> float:
    """The computation of dasec/unlinkability-metric's evaluateUnlinkability.py, written out."""
    edges = np.linspace(min(m.min(), nm.min()), max(m.max(), nm.max()), n_bins + 1)
    centres = (edges[1:] + edges[:-1]) / 2
    y1 = np.histogram(m, bins=edges, density=True)[0]
    y2 = np.histogram(nm, bins=edges, density=True)[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = y1 / y2
        d = 2 * (omega * lr / (1 + omega * lr)) - 1
    d[omega * lr <= 1] = 0
    d[y2 == 0] = 1
    d[y1 == 0] = 0
    y = d * y1
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(centres)))


@pytest.mark.parametrize(("shift", "omega", "bins"), [(0.0, 1.0, 100), (1.0, 1.0, 100), (2.0, 0.5, 40)])
def test_trapezoid_rule_matches_the_reference(shift: float, omega: float, bins: int) -> None:
    rng = np.random.default_rng(6)
    m, nm = rng.normal(shift, 1, 4000), rng.normal(0, 1, 6000)
    ref = _reference_trapezoid(m, nm, omega, bins)
    assert dsys(m, nm, omega=omega, bins=bins, rule="trapezoid") == pytest.approx(ref, abs=1e-12)
    # the exact sum differs from the trapezoid only through the end bins
    assert dsys(m, nm, omega=omega, bins=bins) == pytest.approx(ref, abs=0.02)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60),
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60),
    st.floats(0.01, 100.0),
    st.integers(1, 120),
)
def test_values_stay_in_unit_interval(m: list[float], nm: list[float], omega: float, bins: int) -> None:
    _, d = local_dsys(m, nm, omega=omega, bins=bins)
    assert np.all((d >= 0) & (d <= 1))
    value = dsys(m, nm, omega=omega, bins=bins)
    assert 0.0 <= value <= 1.0
    # the end bins count half (bin widths rounded from the pooled range: relative slack)
    assert dsys(m, nm, omega=omega, bins=bins, rule="trapezoid") <= value * (1 + 1e-6) + 1e-9


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mated_scores": []}, "mated_scores must not be empty"),
        ({"nonmated_scores": []}, "nonmated_scores must not be empty"),
        ({"mated_scores": [0.1, np.nan]}, "mated_scores contain NaN"),
        ({"nonmated_scores": [np.inf]}, "nonmated_scores contain NaN"),
        ({"mated_scores": [[0.1, 0.2]]}, "mated_scores must be 1-D"),
        ({"mated_scores": 0.5}, "mated_scores must be 1-D"),
        ({"nonmated_scores": ["a", "b"]}, "nonmated_scores must be numbers"),
        ({"omega": 0.0}, "omega"),
        ({"omega": -1.0}, "omega"),
        ({"omega": float("inf")}, "omega"),
        ({"omega": True}, "omega"),
        ({"omega": "1"}, "omega"),
        ({"bins": 0}, "bins"),
        ({"bins": 2.5}, "bins"),
    ],
)
def test_input_validation(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"mated_scores": [0.1, 0.2], "nonmated_scores": [0.3, 0.4]}
    args.update(kwargs)
    with pytest.raises(InvalidArgument, match=match):
        dsys(**args)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match=match):
        local_dsys(**args)  # type: ignore[arg-type]


def test_rule_validation() -> None:
    with pytest.raises(InvalidArgument, match="rule"):
        dsys([0.1], [0.2], rule="simpson")  # type: ignore[arg-type]


def test_integer_scores() -> None:
    assert dsys(np.array([5, 6, 7]), np.array([0, 1, 2])) == pytest.approx(1.0)


# -- linkage scores -------------------------------------------------------------------

PEOPLE, PER_PERSON, NOISE = 100, 4, 0.2


@pytest.fixture(scope="module")
def kg() -> KeyGen:
    return KeyGen()


@pytest.fixture(scope="module")
def population() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Embeddings of PEOPLE random people, PER_PERSON noisy captures each, and the pairs."""
    rng = np.random.default_rng(7)
    base = rng.standard_normal((PEOPLE, 128)).astype(np.float32)
    noise = NOISE * rng.standard_normal((PEOPLE, PER_PERSON, 128)).astype(np.float32)
    embs = (base[:, None, :] + noise).reshape(-1, 128)
    person = np.repeat(np.arange(PEOPLE), PER_PERSON)
    pairs = np.stack(np.triu_indices(len(embs), 1), axis=1)
    mated = person[pairs[:, 0]] == person[pairs[:, 1]]
    return embs, person, pairs, mated


@pytest.fixture(scope="module")
def face_helpers(kg: KeyGen, population: tuple[np.ndarray, ...]) -> list[bytes]:
    return [kg.enroll_scheme(e, "face-only").helper for e in population[0]]


@pytest.fixture(scope="module")
def secret_helpers(kg: KeyGen, population: tuple[np.ndarray, ...]) -> list[bytes]:
    # one secret for everyone: the attacker does not have it, and the same secret is the
    # case most favourable to linking (a device enrolling twice)
    return [kg.enroll_embedding(e, secret=SECRET).helper for e in population[0]]


def _split(pairs: np.ndarray, mated: np.ndarray, n_nonmated: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    nonmated = pairs[~mated]
    return pairs[mated], nonmated[rng.choice(len(nonmated), n_nonmated, replace=False)]


def test_face_only_scores_link_helpers(
    kg: KeyGen, face_helpers: list[bytes], population: tuple[np.ndarray, ...]
) -> None:
    _, _, pairs, mated = population
    mated_pairs, nonmated_pairs = _split(pairs, mated, 5000, 8)
    sm = face_only_linkage_scores(kg, face_helpers, mated_pairs)
    snm = face_only_linkage_scores(kg, face_helpers, nonmated_pairs)
    t = kg.face_code.t
    # same person: s_a ^ s_b decodes, the corrected bits are d(w_a, w_b) (measured 50..132 of 1023)
    assert np.all(sm > -(t + 1)) and np.all(sm <= 0)
    # other people: ~45 % of the bits differ, far beyond t = 223, so decoding fails
    assert np.all(snm == -(t + 1))
    value = dsys(sm, snm)
    assert value > 0.95  # measured 1.0: face-only helpers are fully linkable
    x = population[0][mated_pairs[:5].ravel()]
    bits = kg.face_binarizer.bits(x / np.linalg.norm(x, axis=1, keepdims=True))[0].reshape(5, 2, -1)
    true_d = np.count_nonzero(bits[:, 0] != bits[:, 1], axis=1)
    assert (-sm[:5]).tolist() == true_d.tolist()


def test_face_only_single_pair_and_self(kg: KeyGen, face_helpers: list[bytes]) -> None:
    a, b = face_helpers[0], face_helpers[1]  # the same person
    c = face_helpers[PER_PERSON]  # another person
    assert face_only_linkage_score(kg, a, a) == 0.0
    assert face_only_linkage_score(kg, a, b) > -(kg.face_code.t + 1)
    assert face_only_linkage_score(kg, a, c) == -(kg.face_code.t + 1)
    assert face_only_linkage_score(kg, a, b) == face_only_linkage_score(kg, b, a)


def test_secret_scores_do_not_link_helpers(
    kg: KeyGen, secret_helpers: list[bytes], population: tuple[np.ndarray, ...]
) -> None:
    _, _, pairs, mated = population
    mated_pairs, nonmated_pairs = _split(pairs, mated, 20_000, 9)
    scores = secret_linkage_scores(kg, secret_helpers, np.concatenate([mated_pairs, nonmated_pairs]))
    sm, snm = scores[: len(mated_pairs)], scores[len(mated_pairs) :]
    assert np.all((sm >= 0) & (sm <= 1)) and np.all((snm >= 0) & (snm <= 1))
    # two independent uniform directions in 128-D: |cos| ~ 0.07 on average, either way
    assert abs(float(np.mean(sm)) - float(np.mean(snm))) < 0.015  # ~0.002 typical, 0.0085 max of 2,000 nulls
    assert float(np.mean(snm)) == pytest.approx(np.sqrt(2 / (np.pi * 128)), rel=0.1)
    # Helpers get fresh nonces, so this varies run to run. With 600 mated scores the estimate is
    # biased up: for truly independent directions (2,000 simulations) 0.076 on average, 0.110 at
    # most with 100 bins; 0.030 and 0.059 with 20 bins.
    assert dsys(sm, snm) < 0.15  # measured 0.064-0.081
    assert dsys(sm, snm, bins=20) < 0.1  # measured 0.027-0.035


def test_secret_direction_is_the_rotated_embedding(
    kg: KeyGen, secret_helpers: list[bytes], population: tuple[np.ndarray, ...]
) -> None:
    """The eigenvector step works: with the secret, the direction is the rotated centred embedding."""
    embs = population[0]
    v = secret_helper_directions(kg, secret_helpers[:8])
    assert v.shape == (8, 128)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-9)
    psi = kg.secret_binarizer
    for i in range(8):
        _, header = read_helper_header(secret_helpers[i])
        seed = SecretSelectBinarizer.rotation_seed(SECRET, bytes.fromhex(header["nonce"]))
        x = embs[i] / np.linalg.norm(embs[i]) - psi.center.values
        qx = rotate(seed, (x / np.linalg.norm(x))[None, :])[0]
        assert abs(float(v[i] @ qx)) > 0.95
    assert secret_linkage_score(kg, secret_helpers[0], secret_helpers[0]) == pytest.approx(1.0)
    pair = secret_linkage_score(kg, secret_helpers[0], secret_helpers[1])
    assert 0.0 <= pair < 0.5 and pair == secret_linkage_score(kg, secret_helpers[1], secret_helpers[0])


def test_linkage_scores_refuse_the_other_mode(
    kg: KeyGen, face_helpers: list[bytes], secret_helpers: list[bytes]
) -> None:
    with pytest.raises(PipelineMismatch, match=r"helpers\[1\] is a secret helper"):
        face_only_linkage_score(kg, face_helpers[0], secret_helpers[0])
    with pytest.raises(PipelineMismatch, match=r"helpers\[0\] is a face-only helper"):
        secret_linkage_score(kg, face_helpers[0], secret_helpers[0])
    other = KeyGen(face_code=type(kg.face_code)(10, 200))
    with pytest.raises(PipelineMismatch, match="BCH"):
        face_only_linkage_score(other, face_helpers[0], face_helpers[1])


def test_linkage_scores_validate(kg: KeyGen, face_helpers: list[bytes], secret_helpers: list[bytes]) -> None:
    with pytest.raises(InvalidArgument, match=r"pairs must index helpers 0\.\.1"):
        face_only_linkage_scores(kg, face_helpers[:2], [[0, 2]])
    with pytest.raises(InvalidArgument, match="pairs must be integer"):
        face_only_linkage_scores(kg, face_helpers[:2], [0, 1])
    with pytest.raises(InvalidArgument, match="pairs must be integer"):
        secret_linkage_scores(kg, secret_helpers[:2], [[0.0, 1.0]])
    with pytest.raises(InvalidArgument, match="pairs must not be empty"):
        secret_linkage_scores(kg, secret_helpers[:2], np.zeros((0, 2), dtype=np.int64))
    with pytest.raises(InvalidArgument, match="sequence of helpers"):
        secret_linkage_scores(kg, secret_helpers[0], [[0, 1]])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="kg must be a KeyGen"):
        face_only_linkage_score(object(), face_helpers[0], face_helpers[1])  # type: ignore[arg-type]
    with pytest.raises(InvalidHelperData, match=r"helpers\[1\]: not fuzzykey helper data"):
        face_only_linkage_score(kg, face_helpers[0], b"not a helper")
    with pytest.raises(InvalidArgument, match=r"helpers\[0\]"):  # not bytes at all
        face_only_linkage_score(kg, "a helper as text", face_helpers[1])  # type: ignore[arg-type]


def test_malformed_selection_is_refused(kg: KeyGen, secret_helpers: list[bytes]) -> None:
    from fuzzykey.binarizers import decode_selection

    _, header = read_helper_header(secret_helpers[0])
    psi = kg.secret_binarizer
    assert decode_selection(header["selection"], psi.n_bits, psi.n_candidates).shape == (psi.n_bits,)
    bad = dict(header, selection=base64.b64encode(np.arange(5, dtype="<u2").tobytes()).decode())
    with pytest.raises(InvalidHelperData, match="selection"):
        decode_selection(bad["selection"], psi.n_bits, psi.n_candidates)
    with pytest.raises(InvalidHelperData, match="selection"):
        decode_selection("%%%", psi.n_bits, psi.n_candidates)
