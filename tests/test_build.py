"""The built package: native module, kernel dispatch, CUDA probe, packaging, doc examples."""

from __future__ import annotations

import importlib
import importlib.resources
import os
import re
from pathlib import Path

import numpy as np
import pytest

import fuzzykey
import fuzzykey._core as core
from fuzzykey import ops
from fuzzykey.errors import InvalidArgument


def test_core_imports_and_exposes_api() -> None:
    mod = importlib.import_module("fuzzykey._core")
    assert mod is core
    for name in ("BchCode", "generator_degrees", "primitive_poly", "kernel_isas",
                 "available_kernel_isas", "use_kernel_isa", "cuda_built", "cuda_device_count"):
        assert callable(getattr(core, name)), name


def test_test_hooks_live_in_the_testing_submodule() -> None:
    for name in ("philox4x32_10", "normal4"):
        assert callable(getattr(core.testing, name)), name
        assert not hasattr(core, name), name


def test_kernel_isas() -> None:
    isas = ops.kernel_isas()
    assert set(isas) == {"bch", "hamming", "fwht"}
    assert isas["bch"] in ("avx2", "generic")
    assert isas["hamming"] in ("avx512", "avx2", "popcnt", "generic")
    assert isas["fwht"] in ("avx", "generic")
    assert ops.kernel_isas() == isas  # chosen once, stable
    assert set(ops.available_kernel_isas()) == set(isas)


def test_cuda_probe() -> None:
    built = core.cuda_built()
    assert isinstance(built, bool)
    count = core.cuda_device_count()
    assert isinstance(count, int) and count >= 0
    if not built:
        assert count == 0
    # CI says what it built (.ci/run exports FUZZYKEY_EXPECT_CUDA=1 when nvcc was found)
    expect = os.environ.get("FUZZYKEY_EXPECT_CUDA")
    if expect in ("0", "1"):
        assert built is (expect == "1")


def test_ships_py_typed_and_stub() -> None:
    files = importlib.resources.files("fuzzykey")
    assert files.joinpath("py.typed").is_file()
    assert files.joinpath("_core.pyi").is_file()
    assert files.joinpath("_core_testing.pyi").is_file()


def test_installed_location() -> None:
    if os.environ.get("FUZZYKEY_TEST_INSTALLED") == "1":
        assert "site-packages" in fuzzykey.__file__
        assert "site-packages" in core.__file__
    else:
        # weaker, always-true-for-a-real-build property: the native module is a
        # file that sits next to the package it belongs to
        so = Path(core.__file__)
        assert so.is_file() and so.stat().st_size > 0
        assert so.parent == Path(fuzzykey.__file__).parent
    assert Path(core.__file__).name.startswith("_core.")


def test_native_code_matches_wrapper() -> None:
    native = core.BchCode(6, 3, 50)
    wrapped = fuzzykey.BCHCode(6, 3, 50)
    assert (native.m, native.t, native.n, native.k) == (6, 3, 50, wrapped.k)
    np.testing.assert_array_equal(native.generator(), wrapped.generator)
    deg = core.generator_degrees(6)
    assert deg[0] == 0 and deg[3] == 63 - fuzzykey.BCHCode(6, 3).k == 18


@pytest.mark.parametrize("bad", [4, 17, 0, -1])
def test_native_rejects_bad_m(bad: int) -> None:
    with pytest.raises(ValueError):
        core.generator_degrees(bad)
    with pytest.raises(ValueError):
        core.BchCode(bad, 1, 31)


def test_version() -> None:
    assert fuzzykey.__version__ == "0.1.0"
    assert set(fuzzykey.__all__) >= {"BCHCode", "FuzzyExtractor", "HelperData", "FuzzyKeyError",
                                      "InvalidArgument", "DecodingFailure", "KeyMismatch",
                                      "InvalidHelperData"}


def test_every_kernel_set_decodes_identically() -> None:
    """Each instruction-set variant of the bitsliced kernels (one translation unit
    each, chosen in csrc/dispatch.cpp, the "bch" kernel family) gives bit-identical
    decodings."""
    available = ops.available_kernel_isas()["bch"]
    assert available[-1] == "generic"
    assert ops.kernel_isas()["bch"] == available[0]  # the best one is chosen by default
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file() and " avx2" in cpuinfo.read_text():
        assert "avx2" in available
    rng = np.random.default_rng(11)
    results = {}
    try:
        for isa in available:
            ops.use_kernel_isa("bch", isa)
            assert ops.kernel_isas()["bch"] == isa
            out = []
            for m, t in ((8, 26), (10, 102), (12, 60)):
                code = fuzzykey.BCHCode(m, t)
                cw = code.encode_batch(rng.integers(0, 2, (64, code.k), dtype=np.uint8))
                noisy = cw.copy()
                for row in range(64):
                    noisy[row, rng.choice(code.n, int(rng.integers(0, 2 * t)), replace=False)] ^= 1
                out.append(code.decode_batch(noisy))
            results[isa] = out
            rng = np.random.default_rng(11)
    finally:
        ops.use_kernel_isa("bch", available[0])
    reference = results[available[0]]
    for isa, out in results.items():
        for (cw_a, ne_a), (cw_b, ne_b) in zip(reference, out, strict=True):
            np.testing.assert_array_equal(cw_a, cw_b, err_msg=isa)
            np.testing.assert_array_equal(ne_a, ne_b, err_msg=isa)
        assert any((ne >= 0).any() and (ne < 0).any() for _, ne in out)  # both outcomes exercised


@pytest.mark.parametrize("bad", ["avx9000", "", "AVX2", "avx512"])
def test_use_kernel_isa_rejects_unknown(bad: str) -> None:
    before = ops.kernel_isas()
    with pytest.raises(InvalidArgument, match=re.escape(f"unknown bch kernel set '{bad}'")):
        ops.use_kernel_isa("bch", bad)
    assert ops.kernel_isas() == before
    assert before["bch"] == ops.available_kernel_isas()["bch"][0]


@pytest.mark.parametrize("bad", ["", "BCH", "bitsliced", "hamming "])
def test_use_kernel_isa_rejects_unknown_family(bad: str) -> None:
    before = ops.kernel_isas()
    with pytest.raises(InvalidArgument, match=re.escape(f"unknown kernel family '{bad}'")):
        ops.use_kernel_isa(bad, "generic")
    assert ops.kernel_isas() == before


def test_use_kernel_isa_rejects_sets_this_processor_cannot_run() -> None:
    """A set this build lacks, or this processor cannot run, is refused, quoted, and changes nothing."""
    before = ops.kernel_isas()
    with pytest.raises(InvalidArgument, match="unknown bch kernel set 'avx512'"):
        ops.use_kernel_isa("bch", "avx512")  # no build has an AVX-512 BCH set
    assert ops.kernel_isas() == before
    if "avx512" not in ops.available_kernel_isas()["hamming"]:  # built, but this processor lacks it
        with pytest.raises(InvalidArgument, match="'avx512' needs"):
            ops.use_kernel_isa("hamming", "avx512")
        assert ops.kernel_isas() == before


@pytest.mark.parametrize("family,isa", [(None, "generic"), ("bch", 2), (b"bch", "generic")])
def test_use_kernel_isa_rejects_non_strings(family: object, isa: object) -> None:
    before = ops.kernel_isas()
    with pytest.raises(InvalidArgument, match="must be a string"):
        ops.use_kernel_isa(family, isa)  # type: ignore[arg-type]
    assert ops.kernel_isas() == before


def test_native_module_links_neither_libtorch_nor_a_shared_cudart() -> None:
    """The module takes torch tensors through raw pointers / numpy views and links
    the CUDA runtime statically: its dynamic dependencies name neither."""
    data = Path(core.__file__).read_bytes()
    for lib in (b"libtorch", b"libc10", b"libcudart.so"):
        assert lib not in data, lib
