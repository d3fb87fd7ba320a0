"""The built package: native module, kernel dispatch, CUDA probe, packaging, doc examples."""

from __future__ import annotations

import importlib
import importlib.resources
import os
from pathlib import Path

import numpy as np
import pytest

import fuzzykey
import fuzzykey._core as core


def test_core_imports_and_exposes_api() -> None:
    mod = importlib.import_module("fuzzykey._core")
    assert mod is core
    for name in ("BchCode", "generator_degrees", "primitive_poly", "kernel_isa", "cuda_built",
                 "cuda_device_count"):
        assert callable(getattr(core, name)), name


def test_kernel_isa() -> None:
    isa = core.kernel_isa()
    assert isa in ("avx2", "generic")
    assert core.kernel_isa() == isa  # chosen once, stable


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
