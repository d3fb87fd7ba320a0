"""Fuzzing the helper parsers: mutated helpers give a documented error or the right key, never more.

Targets: ``HelperData.from_bytes``, the KeyGen header (``fuzzykey.header.read_helper_header``)
and ``KeyGen.reproduce_embedding`` with mutated helpers of both modes. Every run must end in
one of the documented exceptions or in the enrolled key (a mutation the parser normalises away
cannot exist: parsing is strict), within 2 s per example (hypothesis's deadline) and without
growing the process by 1 GiB.

The suite runs a few hundred examples; CI's fuzz stage runs the same tests with
``FUZZYKEY_FUZZ_EXAMPLES`` set high (``.ci/run``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzzykey import KeyGen, ZeroLeakageKeys
from fuzzykey.errors import InvalidArgument, InvalidHelperData, KeyMismatch, PipelineMismatch
from fuzzykey.facekeys import read_zero_leakage_header
from fuzzykey.header import read_helper_header
from fuzzykey.helper import HelperData
from fuzzykey.kdf import Argon2id

EXAMPLES = int(os.environ.get("FUZZYKEY_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=2000,  # milliseconds: no example may run over 2 s
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("FUZZYKEY_FUZZ_RANDOM") is None,
)
SECRET = bytes(range(32))
DOCUMENTED = (InvalidHelperData, KeyMismatch, PipelineMismatch)


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


@pytest.fixture(scope="module", autouse=True)
def _bounded_memory() -> Iterator[None]:
    before = _peak_rss_bytes()
    yield
    grown = _peak_rss_bytes() - before
    assert grown < 1 << 30, f"fuzzing grew the process by {grown >> 20} MiB"


MODES = ["secret", "face-only", "two-factor", "sign-bit face-only"]
#: Zero-leakage helpers with a cheap Argon2id, so that mutations that parse cost little to check.
FUZZ_KG = KeyGen(zero_leakage=ZeroLeakageKeys(kdf=Argon2id(1, 64, 1)))


def secret_of(mode: str) -> bytes | None:
    return SECRET if mode in ("secret", "two-factor") else None


@pytest.fixture(scope="module")
def enrolled() -> dict[str, tuple[bytes, bytes, np.ndarray]]:
    kg = FUZZ_KG
    emb = np.random.default_rng(1).standard_normal(128).astype(np.float32)
    out = {}
    public = {"app": "fuzz", "n": [1, 2]}
    for mode in MODES:
        if mode == "sign-bit face-only":
            key, helper = kg.enroll_scheme(emb, "face-only", public=public)
        else:
            key, helper = kg.enroll_embedding(emb, secret=secret_of(mode), public=public, mode=mode)
        assert kg.reproduce_embedding(emb, helper, secret=secret_of(mode)) == key
        out[mode] = (key, helper, emb)
    return out


def mutations(data: bytes) -> st.SearchStrategy[bytes]:
    """Byte flips, overwrites, truncations, insertions and splices of ``data``."""
    n = len(data)
    flip = st.tuples(st.integers(0, n - 1), st.integers(1, 255)).map(
        lambda p: data[: p[0]] + bytes([data[p[0]] ^ p[1]]) + data[p[0] + 1 :]
    )
    overwrite = st.tuples(st.integers(0, n - 1), st.binary(min_size=1, max_size=16)).map(
        lambda p: data[: p[0]] + p[1] + data[p[0] + len(p[1]) :]
    )
    truncate = st.integers(0, n - 1).map(lambda k: data[:k])
    insert = st.tuples(st.integers(0, n), st.binary(min_size=1, max_size=64)).map(
        lambda p: data[: p[0]] + p[1] + data[p[0] :]
    )
    big_field = st.tuples(st.sampled_from([5, 6, 8, 10, 12, 14]), st.binary(min_size=2, max_size=4)).map(
        lambda p: data[: p[0]] + b"\xff" * len(p[1]) + data[p[0] + len(p[1]) :]  # huge m, n, t, k, lengths
    )
    return st.one_of(flip, overwrite, truncate, insert, big_field)


def header_mutations(helper: bytes) -> st.SearchStrategy[bytes]:
    """The same helper with its header's JSON rewritten (fields dropped, retyped, nested)."""
    h = HelperData.from_bytes(helper)
    header = json.loads(h.metadata)
    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=20,
    )
    edit = st.tuples(st.sampled_from(sorted(header) + ["extra"]), st.one_of(st.just(None), values))

    def apply(change: tuple[str, object]) -> bytes:
        name, value = change
        doc = dict(header)
        if value is None:
            doc.pop(name, None)
        else:
            doc[name] = value
        return dataclasses.replace(h, metadata=json.dumps(doc).encode()).to_bytes()

    return edit.map(apply)


def _check(kg: KeyGen, key: bytes, mutated: bytes, emb: np.ndarray, secret: bytes | None) -> None:
    try:
        HelperData.from_bytes(mutated)
    except InvalidHelperData:
        pass
    try:
        got = kg.reproduce_embedding(emb, mutated, secret=secret)
    except DOCUMENTED:
        return
    except InvalidArgument as exc:  # only for a probe problem, never for helper bytes
        raise AssertionError(f"helper bytes raised InvalidArgument: {exc}") from exc
    assert got == key, "a mutated helper gave a wrong key"


@pytest.mark.parametrize("mode", MODES)
def test_mutated_helpers(enrolled, mode: str) -> None:
    key, helper, emb = enrolled[mode]
    secret = secret_of(mode)
    kg = FUZZ_KG

    @FUZZ
    @given(mutated=mutations(helper))
    def run(mutated: bytes) -> None:
        _check(kg, key, mutated, emb, secret)

    run()


@pytest.mark.parametrize("mode", MODES)
def test_mutated_headers(enrolled, mode: str) -> None:
    key, helper, emb = enrolled[mode]
    secret = secret_of(mode)
    kg = FUZZ_KG
    zero_leakage = mode in ("face-only", "two-factor")

    @FUZZ
    @given(mutated=header_mutations(helper))
    def run(mutated: bytes) -> None:
        try:
            if zero_leakage:
                read_zero_leakage_header(mutated, 128)
            else:
                read_helper_header(mutated)
        except InvalidHelperData:
            pass
        _check(kg, key, mutated, emb, secret)

    run()


@FUZZ
@given(data=st.one_of(st.binary(max_size=4096), st.binary(max_size=4096).map(lambda b: b"FZKH" + b)))
def test_arbitrary_bytes_parse_strictly_or_not_at_all(data: bytes) -> None:
    try:
        h = HelperData.from_bytes(data)
    except InvalidHelperData:
        return
    assert h.to_bytes() == data  # strict: what parses is exactly what serialises back
