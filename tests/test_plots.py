"""fuzzykey.evaluation.plots: DET curves as PNG files, and the probit transform."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fuzzykey.errors import InvalidArgument
from fuzzykey.evaluation.metrics import det_curve
from fuzzykey.evaluation.plots import FMR_MAX, FNMR_MAX, RATE_MIN, plot_det, probit

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _det(shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    _, fmr, fnmr = det_curve(rng.normal(shift, 1.0, 2000), rng.normal(0.0, 1.0, 20000))
    return fmr, fnmr


def _check_png(path: Path, size: tuple[int, int] = (700, 500)) -> None:
    from PIL import Image

    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) < 250_000
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert img.size == size
        img.load()


# -- probit --------------------------------------------------------------------


def test_probit_matches_scipy() -> None:
    from scipy.stats import norm

    grid = np.concatenate(
        [
            np.logspace(-300, -1, 3000),
            np.linspace(1e-4, 1 - 1e-4, 10001),
            1.0 - np.logspace(-16, -1, 1000),
            [0.02425, 1 - 0.02425, 0.5],  # the approximation's region boundaries
        ]
    )
    got, want = probit(grid), norm.ppf(grid)
    assert np.all(np.isfinite(got))
    assert np.max(np.abs(got - want)) < 1e-6
    assert np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))) < 2e-9


def test_probit_ends_shapes_and_symmetry() -> None:
    assert probit([0.0, 1.0]).tolist() == [-np.inf, np.inf]
    assert float(probit(0.5)) == 0.0
    assert probit(np.float64(0.975)).shape == ()
    assert probit(np.full((2, 3), 0.1)).shape == (2, 3)
    p = np.linspace(0.001, 0.499, 101)
    np.testing.assert_allclose(probit(p), -probit(1.0 - p), rtol=1e-9, atol=1e-12)
    assert np.all(np.diff(probit(np.linspace(0.0, 1.0, 1001))) > 0)


@pytest.mark.parametrize("bad", [-0.1, 1.1, np.nan, [0.5, 2.0]])
def test_probit_refuses_non_probabilities(bad: object) -> None:
    with pytest.raises(InvalidArgument, match="probabilities"):
        probit(bad)


# -- plot_det --------------------------------------------------------------------


def test_writes_a_png(tmp_path: Path) -> None:
    fmr, fnmr = _det(3.0, 0)
    out = plot_det([{"label": "secret", "fmr": fmr, "fnmr": fnmr}], tmp_path / "det.png", title="t")
    assert out == tmp_path / "det.png"
    _check_png(out)


def test_several_curves_points_and_str_path(tmp_path: Path) -> None:
    curves = []
    for i, shift in enumerate((1.0, 2.0, 3.5)):
        fmr, fnmr = _det(shift, i)
        curves.append(
            {
                "label": f"shift {shift}",
                "fmr": fmr.tolist(),  # lists work too
                "fnmr": fnmr,
                "points": [(1e-4, 0.02, "op"), (0.0, 0.9, "at the edge")],
            }
        )
    out = plot_det(curves, str(tmp_path / "several.png"))
    assert isinstance(out, Path)
    _check_png(out)


def test_zeros_and_ones_are_clipped_to_the_axis_ends(tmp_path: Path) -> None:
    curve = {
        "label": "extremes",
        "fmr": np.array([1.0, 0.5, 1e-3, 1e-9, 0.0, 0.0]),
        "fnmr": np.array([0.0, 0.0, 0.01, 0.5, 0.999, 1.0]),
        "points": [(0.0, 1.0, "corner"), (1.0, 0.0, "other corner")],
    }
    out = plot_det([curve], tmp_path / "ends.png")
    _check_png(out)
    assert RATE_MIN == 1e-7 and FMR_MAX == 0.5 and FNMR_MAX == 0.995


def test_integer_and_single_point_curves(tmp_path: Path) -> None:
    out = plot_det(
        [{"label": "one", "fmr": [0], "fnmr": [1]}, {"label": "ints", "fmr": [1, 0], "fnmr": [0, 1]}],
        tmp_path / "tiny.png",
    )
    _check_png(out)


@pytest.mark.parametrize(
    ("curves", "match"),
    [
        ([], "non-empty"),
        ({"label": "x", "fmr": [0.1], "fnmr": [0.1]}, "non-empty list"),
        ([{"label": "x", "fmr": [0.1, 0.2], "fnmr": [0.1]}], "same length"),
        ([{"label": "x", "fmr": [], "fnmr": []}], "non-empty 1-D"),
        ([{"label": "x", "fmr": [[0.1]], "fnmr": [[0.1]]}], "1-D"),
        ([{"label": "x", "fmr": [0.1, 1.5], "fnmr": [0.1, 0.2]}], r"\[0, 1\]"),
        ([{"label": "x", "fmr": [0.1, np.nan], "fnmr": [0.1, 0.2]}], r"\[0, 1\]"),
        ([{"label": "x", "fmr": ["a"], "fnmr": [0.1]}], "numbers"),
        ([{"label": 3, "fmr": [0.1], "fnmr": [0.1]}], "label"),
        ([{"label": "x", "fmr": [0.1]}], "'fmr' and 'fnmr'"),
        ([{"label": "x", "fmr": [0.1], "fnmr": [0.1], "colour": "red"}], "unknown keys"),
        (["not a dict"], "must be a dict"),
        ([{"label": "x", "fmr": [0.1], "fnmr": [0.1], "points": [(0.1, 0.2)]}], "triple"),
        ([{"label": "x", "fmr": [0.1], "fnmr": [0.1], "points": [(0.1, 2.0, "p")]}], r"\[0, 1\]"),
        ([{"label": "x", "fmr": [0.1], "fnmr": [0.1], "points": [(0.1, 0.2, 5)]}], "text"),
    ],
)
def test_refuses_malformed_curves(tmp_path: Path, curves: object, match: str) -> None:
    target = tmp_path / "bad.png"
    with pytest.raises(InvalidArgument, match=match):
        plot_det(curves, target)  # type: ignore[arg-type]
    assert not target.exists()


def test_bits_panel_beside_the_det_plot(tmp_path: Path) -> None:
    fmr, fnmr = _det(3.0, 0)
    panel = {
        "series": [
            {"label": "k", "bits": [15, 16, 20, 24], "frr": [0.07, 0.088, 0.146, 0.215], "kind": "line"},
            {"label": "-log2 FAR", "bits": np.array([17.3]), "frr": [0.088], "kind": "points"},
        ],
        "limit_bits": 49.1,
        "title": "FRR against bits",
    }
    out = plot_det([{"label": "a", "fmr": fmr, "fnmr": fnmr}], tmp_path / "two.png", bits_panel=panel)
    _check_png(out, size=(1400, 550))  # the panel sits beside the DET plot


@pytest.mark.parametrize(
    ("panel", "match"),
    [
        ({}, "'series' list"),
        ({"series": [{"bits": [16], "frr": [0.1]}]}, "'label' str"),
        ({"series": [{"label": "x", "bits": [16, 20], "frr": [0.1]}]}, "as long as"),
        ({"series": [{"label": "x", "bits": [0], "frr": [0.1]}]}, "positive"),
        ({"series": [{"label": "x", "bits": [16], "frr": [1.5]}]}, r"\[0, 1\]"),
        ({"series": [{"label": "x", "bits": [16], "frr": [0.1], "kind": "bars"}]}, "kind"),
        ({"series": [], "limit_bits": float("nan")}, "limit_bits"),
    ],
)
def test_refuses_malformed_bits_panel(tmp_path: Path, panel: dict, match: str) -> None:
    curves = [{"label": "x", "fmr": [0.1], "fnmr": [0.1]}]
    with pytest.raises(InvalidArgument, match=match):
        plot_det(curves, tmp_path / "bad.png", bits_panel=panel)
    assert not (tmp_path / "bad.png").exists()


def test_refuses_bad_path_and_title(tmp_path: Path) -> None:
    curves = [{"label": "x", "fmr": [0.1], "fnmr": [0.1]}]
    with pytest.raises(InvalidArgument, match="path"):
        plot_det(curves, 5)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="title"):
        plot_det(curves, tmp_path / "x.png", title=3)  # type: ignore[arg-type]


def test_missing_matplotlib_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(InvalidArgument, match=r"pip install 'fuzzykey\[bench\]'"):
        plot_det([{"label": "x", "fmr": [0.1], "fnmr": [0.1]}], tmp_path / "x.png")


def test_import_does_not_import_matplotlib() -> None:
    code = "import sys, fuzzykey.evaluation.plots; print('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=dict(os.environ)
    )
    assert out.stdout.strip() == "False"
