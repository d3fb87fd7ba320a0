"""DET curves (detection error trade-off) as PNG files, with matplotlib.

:func:`plot_det` draws FNMR against FMR on normal-deviate (probit) axes, as in
NIST's DET plots (A. Martin et al., "The DET Curve in Assessment of Detection
Task Performance", Eurospeech 1997): a rate r is drawn at
:math:`\\Phi^{-1}(r)`, so error trade-offs of normal score distributions become
straight lines and rates from 10^-6 to 0.5 share one readable plot.
:func:`probit` is :math:`\\Phi^{-1}` (Acklam's rational approximation, relative
error < 1.2e-9, so neither scipy nor matplotlib is needed for it).

matplotlib is imported when a plot is drawn, not with this module, and draws
on its Agg canvas without pyplot (no global backend is touched).

Example:
    >>> from fuzzykey.evaluation.plots import probit
    >>> [round(float(z), 4) for z in probit([0.001, 0.5, 0.975])]
    [-3.0902, 0.0, 1.96]
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InvalidArgument

__all__ = ["RATE_MIN", "FMR_MAX", "FNMR_MAX", "probit", "plot_det"]

RATE_MIN = 1e-7
"""Both axes' low end: smaller rates (0 included) are drawn there."""
FMR_MAX = 0.5
"""The FMR axis' high end: larger rates (1 included) are drawn there."""
FNMR_MAX = 0.995
"""The FNMR axis' high end (face-only keys reject 70-98 % of genuine attempts)."""
_TICKS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99)

# Acklam's coefficients (P. J. Acklam, "An algorithm for computing the inverse
# normal cumulative distribution function", 2003).
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
      1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
      6.680131188771972e01, -1.328068155288572e01)  # fmt: skip
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
      -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
_P_LOW = 0.02425


def _poly(coeffs: Sequence[float], x: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.full_like(x, coeffs[0])
    for c in coeffs[1:]:
        out = out * x + c
    return out


def probit(p: Any) -> NDArray[np.float64]:
    """:math:`\\Phi^{-1}(p)`, the standard normal quantile, elementwise.

    0 gives −inf, 1 gives +inf; values outside [0, 1] or NaN raise
    :class:`~fuzzykey.errors.InvalidArgument`. Acklam's approximation: within
    1.2e-9 relative of the exact quantile on (0, 1).
    """
    x = np.asarray(p, dtype=np.float64)
    if not np.all((x >= 0.0) & (x <= 1.0)):
        raise InvalidArgument("probit needs probabilities in [0, 1]")
    out = np.empty_like(x)
    low = x < _P_LOW
    high = x > 1.0 - _P_LOW
    mid = ~(low | high)
    q = x[mid] - 0.5
    r = q * q
    out[mid] = q * _poly(_A, r) / (_poly(_B, r) * r + 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 and 1 are set below
        ql = np.sqrt(-2.0 * np.log(x[low]))
        out[low] = _poly(_C, ql) / (_poly(_D, ql) * ql + 1.0)
        qh = np.sqrt(-2.0 * np.log1p(-x[high]))
        out[high] = -_poly(_C, qh) / (_poly(_D, qh) * qh + 1.0)
    out[x == 0.0] = -np.inf
    out[x == 1.0] = np.inf
    return out


def _rates(value: Any, name: str) -> NDArray[np.float64]:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise InvalidArgument(f"{name} must be numbers, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.size == 0:
        raise InvalidArgument(f"{name} must be a non-empty 1-D array of rates, got shape {arr.shape}")
    out = arr.astype(np.float64)
    if not np.all((out >= 0.0) & (out <= 1.0)):  # also refuses NaN
        raise InvalidArgument(f"{name} must hold rates in [0, 1]")
    return out


def _check_curves(curves: Any) -> list[dict[str, Any]]:
    if isinstance(curves, Mapping) or not isinstance(curves, Sequence) or not curves:
        raise InvalidArgument("curves must be a non-empty list of dicts with 'label', 'fmr' and 'fnmr'")
    out = []
    for i, curve in enumerate(curves):
        where = f"curves[{i}]"
        if not isinstance(curve, Mapping):
            raise InvalidArgument(f"{where} must be a dict, got {type(curve).__name__}")
        unknown = set(curve) - {"label", "fmr", "fnmr", "points"}
        if unknown:
            raise InvalidArgument(f"{where} has unknown keys {sorted(unknown)}")
        label = curve.get("label")
        if not isinstance(label, str):
            raise InvalidArgument(f"{where}['label'] must be a str, got {type(label).__name__}")
        if "fmr" not in curve or "fnmr" not in curve:
            raise InvalidArgument(f"{where} needs 'fmr' and 'fnmr'")
        fmr = _rates(curve["fmr"], f"{where}['fmr']")
        fnmr = _rates(curve["fnmr"], f"{where}['fnmr']")
        if fmr.shape != fnmr.shape:
            raise InvalidArgument(
                f"{where}: 'fmr' and 'fnmr' must have the same length, got {fmr.size} and {fnmr.size}"
            )
        points = []
        raw_points = curve.get("points") or []
        if not isinstance(raw_points, Sequence) or isinstance(raw_points, str):
            raise InvalidArgument(f"{where}['points'] must be a list of (fmr, fnmr, text)")
        for j, point in enumerate(raw_points):
            pw = f"{where}['points'][{j}]"
            if not isinstance(point, Sequence) or isinstance(point, str) or len(point) != 3:
                raise InvalidArgument(f"{pw} must be a (fmr, fnmr, text) triple, got {point!r}")
            a, b, text = point
            if not isinstance(text, str):
                raise InvalidArgument(f"{pw}: text must be a str, got {type(text).__name__}")
            pa, pb = _rates(np.atleast_1d(a), f"{pw} fmr"), _rates(np.atleast_1d(b), f"{pw} fnmr")
            if pa.size != 1 or pb.size != 1:
                raise InvalidArgument(f"{pw}: fmr and fnmr must be single rates")
            points.append((float(pa[0]), float(pb[0]), text))
        out.append({"label": label, "fmr": fmr, "fnmr": fnmr, "points": points})
    return out


def _percent(rate: float) -> str:
    text = f"{rate * 100:.6f}".rstrip("0").rstrip(".")
    return f"{text}%"


def plot_det(
    curves: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    bits_panel: Mapping[str, Any] | None = None,
) -> Path:
    """Draw DET curves on probit axes and write them to a PNG file.

    Args:
        curves: one dict per curve: ``"label"`` (str), ``"fmr"`` and ``"fnmr"``
            (equal-length, non-empty sequences of rates in [0, 1], e.g. from
            :func:`fuzzykey.evaluation.metrics.det_curve`), optionally ``"points"``: a list
            of ``(fmr, fnmr, text)`` operating points, drawn as labelled markers.
        path: the PNG to write (its folder must exist).
        title: the plot's title.
        bits_panel: a second panel beside the DET plot, FRR against security bits
            (log-2 axis): ``"series"``, a list of dicts with ``"label"``, ``"bits"``
            and ``"frr"`` (equal-length sequences; FRR in [0, 1]) and ``"kind"``
            (``"line"`` or ``"points"``); optionally ``"limit_bits"`` (a vertical
            line: the encoder's mutual-information bound) and ``"title"``.

    The axes run from :data:`RATE_MIN` (1e-7) to :data:`FMR_MAX` (0.5) for
    FMR and to :data:`FNMR_MAX` (0.995) for FNMR; rates outside (0 and 1
    included) are drawn at the nearer end, so curves reach the edges instead
    of vanishing. Ticks from 0.0001 % to 50 % (FMR) and 99 % (FNMR), labelled
    in percent. 7 × 5 in at 100 dpi (700 × 500 pixels).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        InvalidArgument: malformed curves (empty, mismatched lengths, rates
            outside [0, 1]), a non-path ``path``, or matplotlib is not installed.
    """
    checked = _check_curves(curves)
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidArgument(f"path must be a str or path, got {type(path).__name__}")
    if title is not None and not isinstance(title, str):
        raise InvalidArgument(f"title must be a str or None, got {type(title).__name__}")
    out_path = Path(path)
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise InvalidArgument("--plot needs matplotlib: pip install 'fuzzykey[bench]'") from exc

    def zx(rates: Any) -> NDArray[np.float64]:
        return probit(np.clip(np.asarray(rates, dtype=np.float64), RATE_MIN, FMR_MAX))

    def zy(rates: Any) -> NDArray[np.float64]:
        return probit(np.clip(np.asarray(rates, dtype=np.float64), RATE_MIN, FNMR_MAX))

    panel = _check_bits_panel(bits_panel) if bits_panel is not None else None
    fig = Figure(figsize=(14, 5.5) if panel is not None else (7, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 2 if panel is not None else 1, 1)
    for curve in checked:
        (line,) = ax.plot(zx(curve["fmr"]), zy(curve["fnmr"]), label=curve["label"], linewidth=1.6)
        for a, b, text in curve["points"]:
            za, zb = float(zx(a)), float(zy(b))
            ax.plot(
                [za], [zb], marker="o", markersize=5, color=line.get_color(), linestyle="none", clip_on=False
            )
            ax.annotate(text, (za, zb), xytext=(5, 5), textcoords="offset points", fontsize=8)
    for hi, set_ticks, set_lim in (
        (FMR_MAX, ax.set_xticks, ax.set_xlim),
        (FNMR_MAX, ax.set_yticks, ax.set_ylim),
    ):
        ticks = [t for t in _TICKS if t <= hi]
        set_ticks(probit(ticks), [_percent(t) for t in ticks])
        set_lim(float(probit(RATE_MIN)), float(probit(hi)))
    ax.tick_params(labelsize=8)
    ax.set_xlabel("False match / key false accept rate")
    ax.set_ylabel("False non-match / key false reject rate")
    if title:
        ax.set_title(title)
    ax.grid(True, linestyle=":", linewidth=0.7)
    ax.legend(loc="upper right", fontsize=8)
    if panel is not None:
        _draw_bits_panel(fig.add_subplot(1, 2, 2), panel)
    fig.tight_layout()
    fig.savefig(out_path, format="png", dpi=100)
    return out_path


def _check_bits_panel(panel: Any) -> dict[str, Any]:
    if not isinstance(panel, Mapping) or not isinstance(panel.get("series"), Sequence):
        raise InvalidArgument("bits_panel must be a mapping with a 'series' list")
    series = []
    for i, item in enumerate(panel["series"]):
        if not isinstance(item, Mapping) or not isinstance(item.get("label"), str):
            raise InvalidArgument(f"bits_panel series {i} must be a mapping with a 'label' str")
        bits = np.asarray(item.get("bits", []), dtype=np.float64)
        frr = _rates(item.get("frr", []), f"bits_panel series {i} frr")
        if bits.ndim != 1 or bits.shape != frr.shape or not len(bits) or not np.all(bits > 0):
            raise InvalidArgument(f"bits_panel series {i}: 'bits' must be positive and as long as 'frr'")
        kind = item.get("kind", "line")
        if kind not in ("line", "points"):
            raise InvalidArgument(f"bits_panel series {i}: kind must be 'line' or 'points', got {kind!r}")
        series.append({"label": item["label"], "bits": bits, "frr": frr, "kind": kind})
    limit = panel.get("limit_bits")
    if limit is not None and not (isinstance(limit, (int, float)) and math.isfinite(limit) and limit > 0):
        raise InvalidArgument(f"bits_panel limit_bits must be a positive number, got {limit!r}")
    return {"series": series, "limit_bits": limit, "title": panel.get("title")}


def _draw_bits_panel(ax: Any, panel: dict[str, Any]) -> None:
    """FRR (percent) against security bits on a log-2 axis."""
    markers = "o^sPDvX*"
    top = 0.0  # the highest FRR drawn, for the ticks
    for i, s in enumerate(panel["series"]):
        style = "-" if s["kind"] == "line" else "none"
        ax.plot(s["bits"], np.maximum(100 * s["frr"], 0.1), marker=markers[i % len(markers)], linestyle=style,
                label=s["label"], markersize=6)
        top = max(top, float(np.max(s["frr"])))
    if panel["limit_bits"] is not None:
        ax.axvline(panel["limit_bits"], color="grey", linestyle="--",
                   label=f"encoder limit: {panel['limit_bits']:.1f} bits (mutual information)")
    ax.axhline(10, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xlim(4, 256)
    ax.set_xticks([4, 8, 16, 32, 64, 128, 256], ["4", "8", "16", "32", "64", "128", "256"])
    ax.set_yscale("log")
    ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100) if t <= max(100 * top, 20.0) * 2]
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_ylim(0.1, 100)
    ax.set_xlabel("security bits (log scale): k, -log2 FAR, log2 guesswork")
    ax.set_ylabel("key false reject rate, % (log scale; 0 drawn at 0.1)")
    if panel["title"]:
        ax.set_title(panel["title"], fontsize=10)
    ax.tick_params(labelsize=8)
    ax.grid(True, linestyle=":", linewidth=0.7)
    ax.legend(fontsize=7, loc="lower left")
