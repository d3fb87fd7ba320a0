"""Shared strategies and helpers for the fuzzykey test suite.

Tests import the plain helpers below with ``from conftest import ...`` (pytest
puts this directory on ``sys.path``); nothing here touches the source tree, so
the installed package is the one under test.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import strategies as st

from fuzzykey import BCHCode, FuzzyExtractor

# deg g(x) for t = 1 is m (the minimal polynomial of alpha), so a code over
# GF(2^m) keeps a message bit only if n >= m + 1.


def full_length(m: int) -> int:
    return (1 << m) - 1


@st.composite
def bch_params(draw, min_m: int = 5, max_m: int = 10):
    """(m, t, n) of a valid, possibly shortened, BCH code (k >= 1)."""
    m = draw(st.integers(min_m, max_m))
    big = full_length(m)
    n = draw(st.one_of(st.just(big), st.integers(m + 1, big)))
    t_top = BCHCode.max_t(m, n)
    t = draw(st.one_of(st.integers(1, min(t_top, 8)), st.integers(1, t_top), st.just(t_top)))
    return m, t, n


def codes(min_m: int = 5, max_m: int = 10):
    return bch_params(min_m, max_m).map(lambda p: BCHCode(p[0], p[1], p[2]))


seeds = st.integers(0, 2**63 - 1)


def random_bits(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.integers(0, 2, shape, dtype=np.uint8)


def error_vector(rng: np.random.Generator, n: int, weight: int) -> np.ndarray:
    """A 0/1 vector of length n with exactly ``weight`` ones."""
    e = np.zeros(n, dtype=np.uint8)
    e[rng.choice(n, size=weight, replace=False)] = 1
    return e


def hamming(a, b) -> int:
    return int(np.count_nonzero(np.asarray(a) != np.asarray(b)))


@functools.cache
def _galois_powers(m: int) -> np.ndarray:
    """alpha^0 .. alpha^(2^m - 2) as integers, alpha = x in galois' GF(2^m) built on the
    Conway polynomial (the field fuzzykey documents; test_bch checks that it is fuzzykey's)."""
    import galois

    field = galois.GF(2**m, irreducible_poly=galois.conway_poly(2, m))
    alpha = field(2)  # the polynomial x: primitive, since Conway polynomials are
    return np.asarray(alpha ** np.arange(full_length(m)), dtype=np.int64)


def is_codeword(code: BCHCode, word) -> bool:
    """Whether ``word`` (bit i = coefficient of x^i) is a codeword of the narrow-sense
    binary BCH code with designed distance 2t + 1 over GF(2^m), decided without
    fuzzykey: its polynomial c(x) is divisible by the generator g(x), the least common
    multiple of the minimal polynomials of alpha^1 .. alpha^2t, exactly when
    c(alpha^j) = 0 for j = 1 .. 2t (c has binary coefficients). The field arithmetic is
    galois'; a shortened code's words are the full code's with the top positions zero."""
    word = np.asarray(word, dtype=np.uint8)
    if word.shape != (code.n,) or np.any(word > 1):
        return False
    n_full = full_length(code.m)
    powers = _galois_powers(code.m)
    support = np.flatnonzero(word)
    for j in range(1, 2 * code.t + 1, 2):  # c(alpha^2j) = c(alpha^j)^2 for binary c
        if np.bitwise_xor.reduce(powers[(j * support) % n_full], initial=0) != 0:
            return False
    return True


def poly_int(bits) -> int:
    """The GF(2) polynomial sum_i bits[i] x^i as a Python int (bit i = x^i)."""
    return int("".join("1" if b else "0" for b in reversed(list(bits))) or "0", 2)


def poly_mod(a: int, g: int) -> int:
    """a(x) mod g(x) over GF(2), polynomials as Python ints."""
    dg = g.bit_length() - 1
    while a and a.bit_length() - 1 >= dg:
        a ^= g << (a.bit_length() - 1 - dg)
    return a


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


@pytest.fixture(scope="session")
def small_code() -> BCHCode:
    return BCHCode(5, 3)  # n = 31, k = 16


@pytest.fixture(scope="session")
def medium_code() -> BCHCode:
    return BCHCode(10, 50, 1000)


@pytest.fixture
def small_fe(small_code: BCHCode) -> FuzzyExtractor:
    return FuzzyExtractor(small_code, key_bytes=32, info=b"conftest")


# --------------------------------------------------------------------------- face pipeline
# Real data and the shared, expensive face-model objects. The optional [face]
# modules are imported inside the fixtures, so the BCH/extractor tests above
# need none of them.


def shared_data_dir():
    """``$FUZZYKEY_DATA``, else ``../shared/data`` beside the project (a ``pathlib.Path``)."""
    import os
    from pathlib import Path

    env = os.environ.get("FUZZYKEY_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def copy_lfw_people(root, people):
    """Copy the first ``count`` LFW-dev photos of each ``person: count`` into ``root/<person>/``."""
    import shutil

    lfw = shared_data_dir() / "lfw-dev" / "images"
    for person, count in people.items():
        (root / person).mkdir(parents=True)
        for i in range(1, count + 1):
            name = f"{person}_{i:04d}.jpg"
            shutil.copy(lfw / person / name, root / person / name)
    return root


@pytest.fixture(scope="session")
def lfw_root():
    """The ``lfw-dev`` folder (``images/<Name>/<Name>_NNNN.jpg``, ``pairsDevTrain.txt``)."""
    root = shared_data_dir() / "lfw-dev"
    if not (root / "images").is_dir():
        pytest.fail(f"LFW dev data not found at {root}; point FUZZYKEY_DATA at the shared data folder")
    return root


@pytest.fixture(scope="session")
def lfw_images(lfw_root):
    """The LFW ``images`` folder."""
    return lfw_root / "images"


@pytest.fixture(scope="session")
def face_cache_dir(tmp_path_factory):
    """A private ``$FUZZYKEY_CACHE`` for the session-wide face models."""
    return tmp_path_factory.mktemp("fuzzykey-cache")


@pytest.fixture(scope="session")
def yunet(face_cache_dir):
    """One YuNet detector (default settings) for the session."""
    pytest.importorskip("cv2")
    from fuzzykey.face.detect import YuNetDetector

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FUZZYKEY_CACHE", str(face_cache_dir))
        return YuNetDetector()


@pytest.fixture(scope="session")
def sface(face_cache_dir):
    """One SFace encoder for the session (the fixed graph is cached under ``face_cache_dir``)."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from fuzzykey.face.encoders import SFaceEncoder

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FUZZYKEY_CACHE", str(face_cache_dir))
        return SFaceEncoder()
