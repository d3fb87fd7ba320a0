"""The ``fuzzykey bench`` runner: key error rates, security figures and DET curves of KeyGen on a face set.

What :func:`run_bench` does, on an image folder (one subfolder per person) and
an LFW pairs file:

1. detects, aligns and embeds every image once (progress bar), with the
   embedding cache of :mod:`fuzzykey.evaluation.datasets` (a second run starts
   at once); images without a readable face are reported and skipped. Or it
   reads the embeddings from a file of ``fuzzykey embed`` (``cfg.embeddings``,
   :mod:`fuzzykey.evaluation.embeddings_file`): the same rows, no images needed;
2. genuine comparisons: every same-person pair of the folder (enroll on the
   first photo, reproduce from the second), and the pairs file's genuine pairs
   reported separately; impostor comparisons: the pairs file's impostor pairs
   plus every cross-person pair, or a random sample of ``--impostors`` of them
   (default 1,000,000) when there are more (:mod:`fuzzykey.evaluation.pairs`);
3. for each scheme KeyGen offers (``secret``: reliable bits under a secret
   rotation; ``face-only``: public sign bits) the Hamming distance between the
   enrolled and the probe bits of every comparison, exactly as KeyGen computes
   them, each enrollment with its own secret and impostors using the enrollee's
   secret (stolen) (:mod:`fuzzykey.evaluation.distances`); the impostor
   distances are counted per distance, here or on Ray (``cfg.distances``, a
   :class:`~fuzzykey.evaluation.distances.DistanceEngine`), with the same
   result: all cross-person pairs are counted enrollee by enrollee, never
   listed. A bounded-distance
   BCH decoder reproduces the key exactly when that distance is at most t, so
   one pass gives FRR and FAR for every t of the code, the DET curve
   (:mod:`fuzzykey.evaluation.operating_points`); the pairs file's pairs also
   run through KeyGen itself at the default t (:mod:`fuzzykey.evaluation.realpath`);
4. the encoder alone: cosine similarity of the same comparisons (EER, FNMR at
   FMR 1e-2, 1e-3, 1e-4) and the Gaussian mutual-information bound;
5. security figures per scheme, each labelled in the JSON: the code's k,
   impostor degrees of freedom, −log2 FAR, the structural attack on helpers
   alone, the dictionary attack against the number of guesses
   (:mod:`fuzzykey.evaluation.attacks`), and the unlinkability D↔sys of two
   helpers of one person (:mod:`fuzzykey.evaluation.linkability`);
6. throughput of detection, embedding, binarization and extraction
   (:mod:`fuzzykey.evaluation.throughput`).

``key`` in each scheme's JSON is the operating point with the lowest FRR
whose FAR is at most 0.1 % (whatever its k,
:func:`~fuzzykey.evaluation.operating_points.best_point`); ``default_point`` is
KeyGen's own operating point. The two differ for face-only keys, where the
lowest-FRR point has k = 1: read ``security`` before using a number.

Example:
    >>> from fuzzykey.evaluation.keybench import BenchConfig, parse_code
    >>> parse_code("10,155")
    (10, 155)
    >>> BenchConfig(images="faces", pairs=None).binarizer
    'select:1023:32768'
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..bch import BCHCode
from ..binarizers import SecretSelectBinarizer, SignBinarizer
from ..errors import InvalidArgument
from ..facekeys import ZeroLeakageKeys
from ..header import MODES, Mode
from ..keygen import KeyGen
from .attacks import dictionary_attack, structural_attack
from .datasets import (
    ImageFolder,
    LfwPair,
    default_data_dir,
    embed_files,
    lfw_half,
    lfw_pair_paths,
    read_image_folder,
    read_lfw_pairs,
)
from .distances import DistanceEngine, draw_seeds, seeded_key_distances
from .embeddings_file import read_embeddings
from .linkability import dsys, face_only_linkage_scores, secret_linkage_scores
from .metrics import degrees_of_freedom, det_curve, eer, fnmr_at_fmr, gaussian_mi_bits
from .operating_points import OperatingPoint, best_point, error_rate_sweep, far_bits, point_at
from .pairs import genuine_pairs, impostor_pairs
from .progress import Log, Progress, quiet, silent
from .realpath import SECRET_BYTES, Trial, count_keys
from .throughput import measure_throughput
from .zlbench import genuine_attempts, measure_zero_leakage

__all__ = ["BenchConfig", "parse_code", "run_bench"]

_THROUGHPUT_PHOTOS = 50
_ZL_PEOPLE = ("auto", "half-b", "all")
_ZL_FIRST = 6  # genuine attempts: pairs among a person's first 6 photos (the protocol)
_LINKAGE_BINS = 20  # with a few hundred scores per side, 100 bins read ~0.1 high (estimator bias)
_DSYS_MEANS = (
    "Gomez-Barrero et al. 2018 D<->sys of a linkage score between two helpers of one person vs two "
    "people, at KeyGen's default t (0: unlinkable, 1: fully linkable)"
)


def parse_code(text: str) -> tuple[int, int]:
    """``"M,T"`` to ``(m, t)`` for ``BCHCode(m, t)``."""
    try:
        m, t = (int(part) for part in text.split(","))
    except ValueError:
        raise InvalidArgument(f"a code is given as M,T (e.g. 10,155), got {text!r}") from None
    return m, t


@dataclass
class BenchConfig:
    """Settings of :func:`run_bench` (the defaults are ``fuzzykey bench``'s)."""

    images: Path
    """Image folder, one subfolder per person."""
    pairs: Path | None
    """LFW pairs file whose pairs are reported separately (None: none)."""
    json_out: Path | None = None
    plot: Path | None = None
    encoder: str = "sface"
    """``sface`` or the path of an ONNX face encoder."""
    binarizer: str = "select:1023:32768"
    """The secret scheme's binarizer, ``select:N_BITS:N_CANDIDATES``."""
    face_binarizer: str = "sign:1023"
    """The face-only scheme's binarizer, ``sign:N_BITS``."""
    code: str = "10,155"
    face_code: str = "10,223"
    impostors: int = 1_000_000
    """Cross-person pairs to sample when there are more."""
    attack_helpers: int = 100
    dictionary_size: int = 500
    link_pairs: int = 400
    seed: int = 20261122
    embeddings: Path | None = None
    """An embeddings file (``fuzzykey embed``) to start from instead of embedding ``images``."""
    distances: DistanceEngine | None = None
    """Where impostor comparisons are counted (None: here, with the genuine ones, in one pass)."""
    zero_leakage: bool = True
    """Also measure the zero-leakage keys (face-only and two-factor; SFace only)."""
    zl_people: str = "auto"
    """Whose photos the zero-leakage figures use: ``"half-b"`` (people of LFW half B,
    :func:`~fuzzykey.evaluation.datasets.lfw_half`: the shipped transform was fitted on half A),
    ``"all"``, or ``"auto"``: half B when the folder is LFW-dev, else all."""


@dataclass(frozen=True)
class _FaceSet:
    """The folder's photos with a face: their paths, embeddings and person labels."""

    root: Path
    files: list[Path]
    x: NDArray[np.float32]
    labels: NDArray[np.int64]
    skipped: int
    people: list[str]
    """Names by label."""


@dataclass(frozen=True)
class _Comparisons:
    """Index pairs into a :class:`_FaceSet`: enrollment row, probe row."""

    genuine: NDArray[np.int64]
    impostor: NDArray[np.int64]
    """The pairs file's impostor pairs, then the cross-person ones."""
    cross_person: int
    """How many cross-person pairs exist."""
    file_genuine: NDArray[np.int64]
    file_impostor: NDArray[np.int64]


def run_bench(cfg: BenchConfig, *, echo: Log = quiet, progress: Progress = silent) -> dict[str, Any]:
    """Run the benchmark described in the module docstring; returns the JSON document.

    ``echo`` receives the report's lines (tables included) and ``progress``
    counts the embedded photos (see :mod:`fuzzykey.evaluation.progress`); both
    are silent by default. ``cfg.json_out`` and ``cfg.plot``, when set, receive
    the JSON document and the DET plot. Random draws (sampled pairs, secret
    rotations of the distances, attacked helpers) come from ``cfg.seed``; the
    secrets of the helpers made through KeyGen come from :func:`os.urandom`.
    """
    if cfg.zl_people not in _ZL_PEOPLE:
        raise InvalidArgument(f"zl_people must be 'auto', 'half-b' or 'all', got {cfg.zl_people!r}")
    rng = np.random.default_rng(cfg.seed)
    folder = read_image_folder(cfg.images) if cfg.embeddings is None else None
    pairs_file = read_lfw_pairs(cfg.pairs) if cfg.pairs is not None else []
    kg = _make_keygen(cfg)
    t_start = time.perf_counter()
    faces = _embed(cfg, folder, kg, echo, progress)
    t_embed = time.perf_counter() - t_start
    comparisons = _comparisons(cfg, faces, pairs_file, rng, echo)
    encoder_fig, cos_g, cos_i = _encoder_figures(kg, faces, comparisons)
    schemes: dict[str, Any] = {}
    timing: dict[str, float] = {}
    for mode in MODES:
        schemes[mode], seconds = _scheme(kg, mode, faces, comparisons, cfg, rng)
        total = seconds.pop("total")
        timing.update({f"{mode}_{part}": sec for part, sec in seconds.items()})
        timing[mode] = total
        parts = ", ".join(f"{part} {sec:.0f} s" for part, sec in seconds.items())
        echo(f"{mode}: done in {total:.0f} s ({parts})")
    t_zl = time.perf_counter()
    zero_leakage = _zero_leakage(cfg, kg, faces, echo) if cfg.zero_leakage else None
    if zero_leakage is not None:
        timing["zero_leakage"] = time.perf_counter() - t_zl
        echo(f"zero-leakage keys: done in {timing['zero_leakage']:.0f} s")
    doc: dict[str, Any] = {
        "default": "secret",
        "data": {
            "images": str(faces.root),
            "embeddings": str(cfg.embeddings) if cfg.embeddings else None,
            "pairs": str(cfg.pairs) if cfg.pairs else None,
            "n_images": len(faces.x),
            "n_people": int(len(np.unique(faces.labels))),
            "skipped_images": faces.skipped,
            "cross_person_pairs": comparisons.cross_person,
        },
        "encoder": encoder_fig,
        "schemes": schemes,
        "zero_leakage": zero_leakage,
        "throughput": _throughput(kg, faces.files[:_THROUGHPUT_PHOTOS]),
        "seconds": {"embedding": t_embed, **timing, "total": time.perf_counter() - t_start},
    }
    _print_tables(doc, echo)
    if cfg.json_out is not None:
        cfg.json_out.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        echo(f"wrote {cfg.json_out}")
    if cfg.plot is not None:
        _plot(doc, cos_g, cos_i, cfg.plot)
        echo(f"wrote {cfg.plot}")
    return doc


# --------------------------------------------------------------------------- data
def _make_keygen(cfg: BenchConfig) -> KeyGen:
    try:
        kind, *nums = cfg.binarizer.split(":")
        if kind != "select" or len(nums) != 2:
            raise ValueError
        secret_psi = SecretSelectBinarizer(int(nums[0]), int(nums[1]))
        kind, *nums = cfg.face_binarizer.split(":")
        if kind != "sign" or len(nums) != 1:
            raise ValueError
        face_psi = SignBinarizer(int(nums[0]))
    except ValueError:
        raise InvalidArgument(
            f"binarizers are given as select:N_BITS:N_CANDIDATES and sign:N_BITS, "
            f"got {cfg.binarizer!r} and {cfg.face_binarizer!r}"
        ) from None
    m, t = parse_code(cfg.code)
    fm, ft = parse_code(cfg.face_code)
    encoder: Any = None
    if cfg.encoder != "sface":
        from ..face.encoders import OnnxEncoder

        encoder = OnnxEncoder(cfg.encoder)
    return KeyGen(
        encoder=encoder,
        secret_binarizer=secret_psi,
        secret_code=BCHCode(m, t, secret_psi.n_bits),
        face_binarizer=face_psi,
        face_code=BCHCode(fm, ft, face_psi.n_bits),
    )


def _embed(
    cfg: BenchConfig, folder: ImageFolder | None, kg: KeyGen, echo: Log, progress: Progress
) -> _FaceSet:
    """Embed the folder (or read ``cfg.embeddings``); its photos with a face."""
    if folder is None:
        return _read_faces(cfg, kg, echo)
    with progress("embedding", len(folder.files)) as advance:
        embedded = embed_files(folder.files, kg.detector, kg.encoder, progress=advance)
    for reason in embedded.failures.values():
        echo(f"skipped: {reason}")
    ok = np.flatnonzero(embedded.ok)
    if len(ok) < 2:
        raise InvalidArgument(f"fewer than two images with a face in {str(cfg.images)!r}")
    return _FaceSet(
        root=folder.root,
        files=[folder.files[i] for i in ok],
        x=embedded.embeddings[ok],
        labels=folder.labels[ok],
        skipped=len(embedded.failures),
        people=list(folder.people),
    )


def _read_faces(cfg: BenchConfig, kg: KeyGen, echo: Log) -> _FaceSet:
    """The embedded rows of ``cfg.embeddings``, as :func:`_embed` would have made them."""
    assert cfg.embeddings is not None
    table = read_embeddings(cfg.embeddings)
    for part, ours in (("encoder", kg.encoder_name), ("detector", kg.detector_name)):
        theirs = table.metadata[part]["name"]
        if theirs != ours:
            raise InvalidArgument(
                f"embeddings file {str(cfg.embeddings)!r} was made with {part} {theirs!r}; "
                f"this bench uses {ours!r}"
            )
    for error in table.errors:
        if error is not None:
            echo(f"skipped: {error}")
    ok = np.flatnonzero(table.ok)
    if len(ok) < 2:
        raise InvalidArgument(f"fewer than two images with a face in {str(cfg.embeddings)!r}")
    return _FaceSet(
        root=table.root,
        files=[table.root / table.paths[i] for i in ok],
        x=table.embeddings[ok],
        labels=table.labels[ok],
        skipped=len(table.errors) - len(ok),
        people=sorted(set(table.people)),
    )


def _comparisons(
    cfg: BenchConfig,
    faces: _FaceSet,
    pairs_file: list[LfwPair],
    rng: np.random.Generator,
    echo: Log,
) -> _Comparisons:
    """Genuine and impostor pairs of the folder, and the pairs file's pairs found in it."""
    genuine = genuine_pairs(faces.labels)
    if not len(genuine):
        raise InvalidArgument(f"no person in {str(cfg.images)!r} has two images with a face")
    if len(np.unique(faces.labels)) < 2:
        raise InvalidArgument(f"all images with a face in {str(cfg.images)!r} are of one person")
    sampled, n_cross = impostor_pairs(faces.labels, cfg.impostors, rng)
    index_of = {path: row for row, path in enumerate(faces.files)}
    file_pairs: dict[bool, list[tuple[int, int]]] = {True: [], False: []}
    missing = 0
    for pair in pairs_file:
        a, b = lfw_pair_paths(faces.root, pair)
        if a in index_of and b in index_of:
            file_pairs[pair.genuine].append((index_of[a], index_of[b]))
        else:
            missing += 1
    if missing:
        echo(f"pairs file: {missing} pairs name images that are missing or have no face; skipped")
    fg, fi = (np.asarray(file_pairs[g], dtype=np.int64).reshape(-1, 2) for g in (True, False))
    impostor = np.concatenate([fi, sampled])
    echo(
        f"{len(faces.x)} images of {len(np.unique(faces.labels))} people; {len(genuine):,} genuine pairs, "
        f"{len(impostor):,} impostor pairs ({len(fi)} from the pairs file, "
        f"{len(sampled):,} {'= all' if len(sampled) == n_cross else 'sampled at random of'} "
        f"{n_cross:,} cross-person pairs)"
    )
    return _Comparisons(genuine, impostor, n_cross, fg, fi)


def _encoder_figures(
    kg: KeyGen, faces: _FaceSet, comparisons: _Comparisons
) -> tuple[dict[str, Any], NDArray[np.float32], NDArray[np.float32]]:
    """The encoder alone on the same comparisons, and the cosine scores for the DET plot."""
    x, labels = faces.x, faces.labels
    g, i = comparisons.genuine, comparisons.impostor
    cos_g = np.sum(x[g[:, 0]] * x[g[:, 1]], axis=1)
    cos_i = np.sum(x[i[:, 0]] * x[i[:, 1]], axis=1)
    figures: dict[str, Any] = {
        "name": kg.encoder_name,
        "eer": eer(cos_g, cos_i),
        "fnmr_at_fmr_0.01": fnmr_at_fmr(cos_g, cos_i, 1e-2),
        "fnmr_at_fmr_0.001": fnmr_at_fmr(cos_g, cos_i, 1e-3),
        "fnmr_at_fmr_0.0001": fnmr_at_fmr(cos_g, cos_i, 1e-4),
        "mi_bound_bits": gaussian_mi_bits(x, labels) if _enough_repeats(labels, x.shape[1]) else None,
    }
    fg, fi = comparisons.file_genuine, comparisons.file_impostor
    if len(fg) and len(fi):
        fcg = np.sum(x[fg[:, 0]] * x[fg[:, 1]], axis=1)
        fci = np.sum(x[fi[:, 0]] * x[fi[:, 1]], axis=1)
        figures["pairs_file"] = {"eer": eer(fcg, fci), "n_genuine": len(fg), "n_impostor": len(fi)}
    return figures, cos_g, cos_i


def _enough_repeats(labels: NDArray[np.int64], dim: int) -> bool:
    counts = np.bincount(labels)
    return int(np.sum(counts[counts >= 2] - 1)) >= dim


# --------------------------------------------------------------------------- schemes
def _scheme(
    kg: KeyGen,
    mode: Mode,
    faces: _FaceSet,
    comparisons: _Comparisons,
    cfg: BenchConfig,
    rng: np.random.Generator,
) -> tuple[dict[str, Any], dict[str, float]]:
    """One scheme's JSON (operating points, security figures, curve, pairs-file check), and the
    seconds each part took."""
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    code = kg.code(mode)
    gen, imp = comparisons.genuine, comparisons.impostor
    d_gen, d_imp, d_fg = _distances(kg, mode, faces, comparisons, cfg.distances, rng)
    seconds["distances"] = time.perf_counter() - t0
    curve = error_rate_sweep(code, d_gen, d_imp)
    best, default = best_point(curve), point_at(curve, code.t)
    scheme: dict[str, Any] = {
        "key": _point_figures(best, code, len(gen), len(imp)),
        "default_point": _point_figures(default, code, len(gen), len(imp)),
        "security": _far_figures(best, len(imp)),
        "curve": [{"t": p["t"], "k": p["k"], "frr": p["frr"], "far": p["far"]} for p in curve],
    }
    t1 = time.perf_counter()
    scheme["pairs_file"] = _pairs_file_check(kg, mode, faces.x, comparisons, d_fg)
    seconds["pairs_file"] = time.perf_counter() - t1
    dof = degrees_of_freedom(d_imp / code.n)
    t1 = time.perf_counter()
    link = _unlinkability(kg, mode, faces, cfg.link_pairs, rng)
    seconds["unlinkability"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    if best is not None:
        field = "secret_code" if mode == "secret" else "face_code"
        kg_key = kg.replace(**{field: BCHCode(code.m, best["t"], code.n)})
        scheme["security"].update(_attacks(kg_key, mode, faces, cfg, rng, dof))
    scheme["security"].update(unlinkability_dsys=link, unlinkability_dsys_means=_DSYS_MEANS)
    default_security = _attacks(kg, mode, faces, cfg, rng, dof)
    bits, bound = far_bits(default["far"], len(imp))
    default_security.update(far_bits=bits, far_bits_is_upper_bound_of_far=bound, code_k_bits=code.k)
    scheme["default_point"]["security"] = default_security
    seconds["attacks"] = time.perf_counter() - t1
    seconds["total"] = time.perf_counter() - t0
    return scheme, seconds


def _distances(
    kg: KeyGen,
    mode: Mode,
    faces: _FaceSet,
    comparisons: _Comparisons,
    engine: DistanceEngine | None,
    rng: np.random.Generator,
) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]]:
    """Genuine, impostor (sorted) and pairs-file genuine distances.

    The rotation seeds are drawn for all comparisons at once, as one
    :func:`~fuzzykey.evaluation.distances.key_distances` call would. With an
    ``engine`` the impostor distances are counted by it and expanded from the
    counts; when every cross-person pair is an impostor comparison the engine
    enumerates them itself. The impostor distances come back sorted either way,
    so that the figures computed from them are the same.
    """
    gen, imp, fg = comparisons.genuine, comparisons.impostor, comparisons.file_genuine
    fi = comparisons.file_impostor
    everything = np.concatenate([gen, imp, fg])
    seeds = draw_seeds(kg, mode, everything, len(faces.x), rng)
    if engine is None:  # here, in one pass: each enrollee's rotation made once
        dist = seeded_key_distances(kg, mode, faces.x, everything, seeds)
        d_gen, d_imp, d_fg = np.split(dist, [len(gen), len(gen) + len(imp)])
        return d_gen, np.sort(d_imp), d_fg
    d_gen, d_fg = np.split(
        seeded_key_distances(kg, mode, faces.x, np.concatenate([gen, fg]), seeds), [len(gen)]
    )
    if len(imp) - len(fi) == comparisons.cross_person:  # all of them, in impostor_pairs' order
        hist = engine.pair_histogram(kg, mode, faces.x, fi, seeds)
        hist += engine.cross_person_histogram(kg, mode, faces.x, faces.labels, seeds)
    else:
        hist = engine.pair_histogram(kg, mode, faces.x, imp, seeds)
    d_imp = np.repeat(np.arange(len(hist), dtype=np.int32), hist)
    return d_gen, d_imp, d_fg


def _point_figures(
    point: OperatingPoint | None, code: BCHCode, n_gen: int, n_imp: int
) -> dict[str, Any] | None:
    if point is None:
        return None
    return {
        "frr": point["frr"],
        "far": point["far"],
        "n_genuine": n_gen,
        "n_impostor": n_imp,
        "t": point["t"],
        "k": point["k"],
        "n": code.n,
    }


def _far_figures(best: OperatingPoint | None, n_imp: int) -> dict[str, Any]:
    """The key point's security figures known before the attacks run."""
    bits, bound = far_bits(best["far"], n_imp) if best is not None else (0.0, False)
    return {
        "code_k_bits": best["k"] if best is not None else None,
        "code_k_bits_means": "upper bound: with code-offset, H(w | helper) <= k (2^k guesses)",
        "dof": None,
        "far_bits": bits,
        "far_bits_is_upper_bound_of_far": bound,
    }


def _pairs_file_check(
    kg: KeyGen, mode: Mode, x: NDArray[np.float32], comparisons: _Comparisons, d_fg: NDArray[np.int32]
) -> dict[str, Any] | None:
    """The pairs file's pairs through KeyGen itself at the default t."""
    fg, fi = comparisons.file_genuine, comparisons.file_impostor
    if not len(fg) and not len(fi):
        return None
    genuine = count_keys(kg, mode, x, [Trial(a, genuine=[b]) for a, b in fg])
    impostor = count_keys(kg, mode, x, [Trial(a, impostors=[b]) for a, b in fi])
    out: dict[str, Any] = {
        "genuine": {"keys_reproduced": genuine.genuine_keys / len(fg) if len(fg) else None, "n": len(fg)},
        "impostor": {"keys_reproduced": impostor.impostor_keys / len(fi) if len(fi) else None, "n": len(fi)},
    }
    t = kg.code(mode).t
    if mode == "face-only" and len(fg):
        out["genuine"]["predicted_from_distances"] = float(np.mean(d_fg <= t))
    out["t"] = t
    return out


def _attacks(
    kg: KeyGen,
    mode: Mode,
    faces: _FaceSet,
    cfg: BenchConfig,
    rng: np.random.Generator,
    dof: float,
) -> dict[str, Any]:
    """Structural and dictionary attacks on ``cfg.attack_helpers`` helpers made by ``kg``."""
    x, labels = faces.x, faces.labels
    n = min(cfg.attack_helpers, len(x))
    enrolled = rng.choice(len(x), size=n, replace=False)
    secrets = [os.urandom(SECRET_BYTES) if mode == "secret" else None for _ in range(n)]
    helpers = [kg.enroll_scheme(x[i], mode, secret=s).helper for i, s in zip(enrolled, secrets, strict=True)]
    structural = [structural_attack(kg, h) for h in helpers]
    dict_idx = rng.permutation(len(x))[: cfg.dictionary_size]
    d = dictionary_attack(
        kg,
        helpers,
        x[dict_idx],
        secrets=secrets,
        exclude=list(labels[enrolled]),
        dictionary_labels=labels[dict_idx],
    )
    return {
        "dof": dof,
        "structural_attack_success": float(np.mean([r.key is not None for r in structural])),
        "structural_attack_means": (
            "fraction of helpers whose key was recovered from the helper alone (no face, no secret)"
        ),
        "structural_attack_work_bits": float(structural[0].work_bits) if structural else None,
        "attacks_at_t": kg.code(mode).t,
        "dictionary_attack": [{"guesses": g, "success": s} for g, s in d.curve()],
        "dictionary_attack_means": (
            "fraction of helpers opened by trying other people's photos in order"
            + (", with the enrollee's stolen secret" if mode == "secret" else "")
        ),
    }


def _unlinkability(
    kg: KeyGen, mode: Mode, faces: _FaceSet, n_pairs: int, rng: np.random.Generator
) -> float | None:
    """D<->sys of two helpers of one person (each its own enrollment and secret) vs two people."""
    x, labels = faces.x, faces.labels
    mated = genuine_pairs(labels)
    if not len(mated):
        return None
    mated = mated[rng.permutation(len(mated))[:n_pairs]]
    non, _ = impostor_pairs(labels, len(mated), rng)
    both = np.concatenate([mated, non])
    helpers = [
        kg.enroll_scheme(x[i], mode, secret=os.urandom(SECRET_BYTES) if mode == "secret" else None).helper
        for i in both.ravel()
    ]
    pairs = np.arange(len(helpers)).reshape(-1, 2)
    scorer = secret_linkage_scores if mode == "secret" else face_only_linkage_scores
    scores = scorer(kg, helpers, pairs)
    return float(dsys(scores[: len(mated)], scores[len(mated) :], bins=_LINKAGE_BINS))


def _throughput(kg: KeyGen, files: list[Path]) -> dict[str, float] | None:
    files = [f for f in files if f.is_file()]  # from an embeddings file, the images may be elsewhere
    if not files:
        return None
    tp = measure_throughput(kg, files, "secret")
    return {
        "photos": tp.photos,
        "detection_per_s": tp.per_second(tp.detection),
        "embedding_per_s": tp.per_second(tp.embedding),
        "binarization_per_s": tp.per_second(tp.binarization_enroll),
        "extraction_enroll_per_s": tp.per_second(tp.extraction_enroll),
        "extraction_reproduce_per_s": tp.per_second(tp.extraction_reproduce),
    }


# --------------------------------------------------------------------------- zero-leakage keys
def _zl_people(cfg: BenchConfig, faces: _FaceSet) -> str:
    if cfg.zl_people != "auto":
        return cfg.zl_people
    default = default_data_dir() / "lfw-dev" / "images"
    return "half-b" if default.exists() and faces.root.resolve() == default.resolve() else "all"


def _zero_leakage(cfg: BenchConfig, kg: KeyGen, faces: _FaceSet, echo: Log) -> dict[str, Any] | None:
    """The zero-leakage keys' figures (:func:`fuzzykey.evaluation.zlbench.measure_zero_leakage`)
    on the measured people; the others (half A) model the population for the guesswork attack."""
    zk = ZeroLeakageKeys(k=16)
    if kg.encoder_name != zk.encoder_name:
        echo(f"zero-leakage keys: not measured (their transform is for {zk.encoder_name}, "
             f"the encoder here is {kg.encoder_name})")
        return None
    which = _zl_people(cfg, faces)
    names = [faces.people[i] for i in faces.labels]
    measured = np.array([which == "all" or lfw_half(n) == "b" for n in names])
    x, labels = faces.x[measured].astype(np.float64), faces.labels[measured]
    if len(genuine_attempts(labels, 1, first=_ZL_FIRST)) == 0 or len(np.unique(labels)) < 2:
        echo("zero-leakage keys: not measured (the measured people need two photos of someone "
             "and at least two people)")
        return None
    population = faces.x[~measured] if (~measured).sum() >= 2 else x
    doc = measure_zero_leakage(x, labels, population=population, first=_ZL_FIRST, seed=cfg.seed,
                               names=faces.people, guesswork_helpers=cfg.attack_helpers * 3,
                               link_non_mated=cfg.link_pairs * 5)
    doc["people_measured"] = which
    doc["population_model"] = "the other people of the set" if (~measured).sum() >= 2 else "the measured set"
    return doc


# --------------------------------------------------------------------------- report
def _print_tables(doc: dict[str, Any], echo: Log) -> None:
    enc = doc["encoder"]
    echo("")
    echo(
        f"encoder {enc['name']} (cosine): EER {enc['eer']:.2%}, FNMR {enc['fnmr_at_fmr_0.01']:.2%} / "
        f"{enc['fnmr_at_fmr_0.001']:.2%} / {enc['fnmr_at_fmr_0.0001']:.2%} at FMR 1e-2 / 1e-3 / 1e-4"
        + (f"; MI bound {enc['mi_bound_bits']:.1f} bits" if enc["mi_bound_bits"] is not None else "")
    )
    echo("")
    head = (
        "scheme",
        "point",
        "t",
        "k",
        "FRR",
        "FAR",
        "-log2 FAR",
        "dof",
        "structural",
        "dictionary",
        "D_sys",
    )
    rows: list[tuple[str, ...]] = [head]
    for name, s in doc["schemes"].items():
        link = s["security"]["unlinkability_dsys"]
        for label, p in (("FAR<=0.1%", s["key"]), ("default", s["default_point"])):
            if p is None:
                rows.append((name, label, *("-",) * (len(head) - 2)))
                continue
            sec = s["security"] if label != "default" else p["security"]
            dictionary = sec["dictionary_attack"]
            last = dictionary[-1] if dictionary else {"guesses": 0, "success": 0.0}
            fb, bound = far_bits(p["far"], p["n_impostor"])
            rows.append(
                (
                    name,
                    label,
                    str(p["t"]),
                    str(p["k"]),
                    f"{p['frr']:.2%}",
                    f"{p['far']:.5%}",
                    f"{'>=' if bound else ''}{fb:.1f}",
                    f"{sec['dof']:.1f}",
                    f"{sec['structural_attack_success']:.0%}",
                    f"{last['success']:.1%} in {last['guesses']}",
                    f"{link:.2f}" if link is not None else "-",
                )
            )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for n, r in enumerate(rows):
        echo("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)))
        if n == 0:
            echo("  ".join("-" * w for w in widths))
    _print_zero_leakage(doc.get("zero_leakage"), echo)
    tp = doc["throughput"]
    echo("")
    if tp is None:
        echo("throughput: not measured (the embeddings file's images are not on this machine)")
    else:
        echo(
            f"throughput (photos/s, {tp['photos']} photos): detection {tp['detection_per_s']:.1f}, embedding "
            f"{tp['embedding_per_s']:.1f}, binarization {tp['binarization_per_s']:.1f}, extraction "
            f"{tp['extraction_enroll_per_s']:.0f} (enroll) / "
            f"{tp['extraction_reproduce_per_s']:.0f} (reproduce)"
        )
    echo(
        "k: code-offset bound on key entropy given the helper; "
        "structural: keys recovered from helpers alone; "
        "dictionary: helpers opened by other people's photos (secret scheme: with the stolen secret); "
        "D_sys: linkability of two helpers of one person (0 = unlinkable, 1 = fully linkable)"
    )


def _print_zero_leakage(zl: dict[str, Any] | None, echo: Log) -> None:
    if zl is None:
        return
    echo("")
    echo(
        f"zero-leakage keys ({zl['people']} people, {zl['images']} images: {zl['people_measured']}; "
        f"gate {zl['pipeline']['gate']:.2f}; every enrollment against every photo of every other person)"
    )
    head = ("photos", "k", "mode", "FRR", "FRR decoder", "impostor keys / attempts", "-log2 FAR (95%)")
    rows: list[tuple[str, ...]] = [head]
    for r in zl["rows"]:
        imp = r["impostor"]
        rows.append((
            str(r["photos"]), str(r["k"]), r["mode"],
            "-" if r["frr"] is None else f"{r['frr']:.2%}",
            "-" if r["frr_decoder"] is None else f"{r['frr_decoder']:.2%}",
            "-" if imp is None else f"{imp['keys']:,} / {imp['attempts']:,}",
            "-" if imp is None else f"{'>=' if imp['keys'] == 0 else ''}{imp['minus_log2_far_95']:.1f}",
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for n, r in enumerate(rows):
        echo("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)))
        if n == 0:
            echo("  ".join("-" * w for w in widths))
    for mode, g in zl["guesswork"].items():
        echo(
            f"guesswork, {mode} (k = {g['k']}, {g['helpers']} helpers): "
            f"log2 mean {g['log2_mean_guesswork']:.1f} "
            f"(zero leakage: {g['k'] - 1:.0f}); rank median {g['rank_median']:.0f}, 1st percentile "
            f"{g['rank_p1']:.0f}"
        )
    leak = zl["leakage"]
    wrong = zl["wrong_secret"]
    echo(
        f"stored positions: {leak['mi_bits_total']:.2f} bits of mutual information with the key bits over "
        f"all coordinates (KS uniformity p = {leak['ks_p']:.2g}); two-factor with a "
        f"wrong secret: {wrong['keys']} keys in {wrong['attempts']:,} attempts with the person's own photos"
    )
    link = zl["linkability"]
    if link.get("face-only") is not None:
        echo(
            f"helpers' linkability D_sys ({link['mated']} mated, {link['non_mated']} non-mated pairs): "
            f"face-only {link['face-only']:.2f}, two-factor {link['two-factor']:.2f}, two-factor with "
            f"the secrets stolen {link['two-factor, secrets stolen']:.2f}"
        )


def _plot(doc: dict[str, Any], cos_g: NDArray[Any], cos_i: NDArray[Any], path: Path) -> None:
    from .plots import plot_det

    _, fmr, fnmr = det_curve(cos_g, cos_i)
    curves: list[dict[str, Any]] = [
        {"label": f"encoder {doc['encoder']['name']} (cosine)", "fmr": fmr, "fnmr": fnmr}
    ]
    for name, s in doc["schemes"].items():
        c = s["curve"]
        d = s["default_point"]
        curves.append(
            {
                "label": f"key, {name} (sweep t)",
                "fmr": np.array([r["far"] for r in c]),
                "fnmr": np.array([r["frr"] for r in c]),
                "points": [(d["far"], d["frr"], f"{name} default t={d['t']}, k={d['k']}")],
            }
        )
    plot_det(
        curves,
        path,
        title=f"DET: {doc['data']['n_images']} images, {doc['data']['n_people']} people",
        bits_panel=_bits_panel(doc),
    )


def _bits_panel(doc: dict[str, Any]) -> dict[str, Any]:
    """FRR against security bits for every scheme (the plot's second panel)."""
    series: list[dict[str, Any]] = []
    zl = doc.get("zero_leakage")
    if zl is not None:
        for photos, sweep in zl.get("sweep", {}).items():
            ks = sorted(int(k) for k, v in sweep.items() if v is not None)  # None: no genuine attempt
            if ks:
                series.append({
                    "label": f"zero-leakage face-only, {photos} photo{'s' if photos != '1' else ''}: k",
                    "bits": ks, "frr": [sweep[str(k)] for k in ks], "kind": "line",
                })
        for mode in ("face-only", "two-factor, secret stolen"):
            rows = [r for r in zl["rows"] if r["mode"] == mode and r["frr"] is not None and r["impostor"]]
            if rows:
                series.append({
                    "label": f"zero-leakage {mode}: -log2 FAR (95 % bound), each row of the table",
                    "bits": [r["impostor"]["minus_log2_far_95"] for r in rows],
                    "frr": [r["frr"] for r in rows], "kind": "points",
                })
        one = next(
            (r for r in zl["rows"] if (r["photos"], r["k"], r["mode"]) == (1, 16, "face-only")), None
        )
        g = zl["guesswork"].get("face-only")
        if one is not None and one["frr"] is not None and g is not None:
            series.append({
                "label": "zero-leakage face-only, 1 photo: log2 mean guesswork",
                "bits": [max(g["log2_mean_guesswork"], 4.0)], "frr": [one["frr"]], "kind": "points",
            })
    for name, s in doc["schemes"].items():
        d = s["default_point"]
        if d is not None and d["k"] > 0:
            note = " (0 bits once the secret is stolen)" if name == "secret" else " (sign bits)"
            series.append({"label": f"Hamming {name} scheme, default t: k{note}",
                           "bits": [d["k"]], "frr": [d["frr"]], "kind": "points"})
    mi = doc["encoder"].get("mi_bound_bits")
    return {"series": series, "limit_bits": mi, "title": "Key FRR against security bits"}
