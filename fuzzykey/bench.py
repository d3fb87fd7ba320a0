"""``fuzzykey bench``: key error rates, security figures and DET curves on a face set.

What it does, on an image folder (one subfolder per person) and an LFW pairs file:

1. detects, aligns and embeds every image once (progress bar), with the
   embedding cache of :mod:`fuzzykey.datasets` (a second run starts at once);
   images without a readable face are reported and skipped;
2. genuine comparisons: every same-person pair of the folder (enroll on the
   first photo, reproduce from the second), and the pairs file's genuine pairs
   reported separately; impostor comparisons: the pairs file's impostor pairs
   plus every cross-person pair, or a random sample of ``--impostors`` of them
   (default 1,000,000) when there are more;
3. for each scheme KeyGen offers (``secret``: reliable bits under a secret
   rotation; ``face-only``: public sign bits) the Hamming distance between the
   enrolled and the probe bits of every comparison, exactly as KeyGen computes
   them, each enrollment with its own secret and impostors using the enrollee's
   secret (stolen). A bounded-distance BCH decoder reproduces the key exactly
   when that distance is at most t, so one pass gives FRR and FAR for every t
   of the code (the DET curve); the pairs file's pairs also run through
   ``KeyGen.reproduce_embeddings`` at the default t, and the two must agree;
4. the encoder alone: cosine similarity of the same comparisons (EER, FNMR at
   FMR 1e-2, 1e-3, 1e-4) and the Gaussian mutual-information bound;
5. security figures per scheme, each labelled in the JSON: the code's k,
   impostor degrees of freedom, −log2 FAR, the structural attack on helpers
   alone, the dictionary attack against the number of guesses, and the
   unlinkability D↔sys of two helpers of one person;
6. throughput of detection, embedding, binarization and extraction.

``key`` in each scheme's JSON is the operating point with the lowest FRR
whose FAR is at most 0.1 % (whatever its k); ``default_point`` is KeyGen's own
operating point. The two differ for face-only keys, where the lowest-FRR point
has k = 1: read ``security`` before using a number.

Example:
    >>> from fuzzykey.bench import bench_command, parse_code
    >>> bench_command.name, parse_code("10,155")
    ('bench', (10, 155))
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
from numpy.typing import NDArray

from .bch import BCHCode
from .binarizers import SecretSelectBinarizer, SignBinarizer, public_projections
from .errors import FuzzyKeyError, InvalidArgument, InvalidImage
from .keygen import KeyGen

__all__ = [
    "bench_command",
    "run_bench",
    "parse_code",
    "BenchConfig",
    "genuine_pairs",
    "impostor_pairs",
    "secret_distances",
    "face_distances",
    "error_rate_sweep",
]

FAR_TARGET = 1e-3


def parse_code(text: str) -> tuple[int, int]:
    """``"M,T"`` to ``(m, t)`` for ``BCHCode(m, t)``."""
    try:
        m, t = (int(part) for part in text.split(","))
    except ValueError:
        raise InvalidArgument(f"a code is given as M,T (e.g. 10,155), got {text!r}") from None
    return m, t


@dataclass
class BenchConfig:
    images: Path
    pairs: Path | None
    json_out: Path | None = None
    plot: Path | None = None
    encoder: str = "sface"
    binarizer: str = "select:1023:32768"
    face_binarizer: str = "sign:1023"
    code: str = "10,155"
    face_code: str = "10,223"
    impostors: int = 1_000_000
    attack_helpers: int = 100
    dictionary_size: int = 500
    link_pairs: int = 400
    seed: int = 20261122
    progress: bool = True


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
        from .encoders import OnnxEncoder

        encoder = OnnxEncoder(cfg.encoder)
    return KeyGen(
        encoder=encoder,
        secret_binarizer=secret_psi,
        secret_code=BCHCode(m, t, secret_psi.n_bits),
        face_binarizer=face_psi,
        face_code=BCHCode(fm, ft, face_psi.n_bits),
    )


def genuine_pairs(labels: NDArray[np.int64]) -> NDArray[np.int64]:
    """Every same-label pair ``(i, j)``, ``i < j``, as a ``(P, 2)`` index array."""
    out = []
    for person in np.unique(labels):
        idx = np.flatnonzero(labels == person)
        if len(idx) >= 2:
            a, b = np.triu_indices(len(idx), k=1)
            out.append(np.stack([idx[a], idx[b]], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)


def impostor_pairs(
    labels: NDArray[np.int64], count: int, rng: np.random.Generator
) -> tuple[NDArray[np.int64], int]:
    """All cross-person ordered pairs, or ``count`` of them drawn at random; and how many exist."""
    n = len(labels)
    sizes = np.bincount(labels)
    total = n * n - int(np.sum(sizes.astype(np.int64) ** 2))
    if total <= count:
        a, b = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        keep = labels[a.ravel()] != labels[b.ravel()]
        return np.stack([a.ravel()[keep], b.ravel()[keep]], axis=1), total
    picked = np.empty((0, 2), dtype=np.int64)
    while len(picked) < count:
        draw = rng.integers(0, n, size=(int((count - len(picked)) * 1.2) + 16, 2))
        draw = draw[labels[draw[:, 0]] != labels[draw[:, 1]]]
        picked = np.concatenate([picked, draw])
    return picked[:count], total


def _haar_rotations(seeds: Sequence[bytes], dim: int) -> NDArray[np.float32]:
    """``haar_rotation`` for many seeds at once, ``(len(seeds), dim, dim)``, in float32."""
    from .binarizers import _householder_vectors

    vectors = [_householder_vectors(seed, dim) for seed in seeds]
    h = np.broadcast_to(np.eye(dim, dtype=np.float32), (len(seeds), dim, dim)).copy()
    for j in range(dim):
        d = np.array([v[j][0] for v in vectors], dtype=np.float32)
        x = np.stack([v[j][1] for v in vectors]).astype(np.float32)
        block = h[:, :, j:]
        proj = np.matmul(block, x[:, :, None])  # (B, dim, 1)
        block -= proj * x[:, None, :]
        block *= -d[:, None, None]
    return h


def secret_distances(
    psi: SecretSelectBinarizer, x: NDArray[np.float32], pairs: NDArray[np.int64], rng: np.random.Generator
) -> NDArray[np.int32]:
    """Hamming distances of the secret scheme, each enrollee with its own random rotation.

    Row i of ``pairs`` enrolls image ``pairs[i, 0]`` (with a fresh random seed per
    enrollee, enrollees visited in increasing order) and probes with
    ``pairs[i, 1]``; the bits are those of :class:`SecretSelectBinarizer`.
    """
    z = x - psi.center.values
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    p_all = public_projections(psi.n_candidates, psi.dim)
    out = np.empty(len(pairs), dtype=np.int32)
    order = np.argsort(pairs[:, 0], kind="stable")
    sorted_pairs = pairs[order]
    starts = np.flatnonzero(np.r_[True, np.diff(sorted_pairs[:, 0]) != 0])
    ends = np.r_[starts[1:], len(sorted_pairs)]
    batch = 64
    for b0 in range(0, len(starts), batch):
        group = range(b0, min(b0 + batch, len(starts)))
        enrollees = sorted_pairs[starts[list(group)], 0]
        qs = _haar_rotations([rng.bytes(32) for _ in group], psi.dim)
        v = np.einsum("bij,bj->bi", qs, z[enrollees])
        y = v @ p_all.T
        sel = np.argpartition(-np.abs(y), psi.n_bits - 1, axis=1)[:, : psi.n_bits]
        enrolled = np.take_along_axis(y, sel, axis=1) > 0
        for slot, g in enumerate(group):
            s, e = starts[g], ends[g]
            probes = (z[sorted_pairs[s:e, 1]] @ qs[slot].T) @ p_all[sel[slot]].T
            out[order[s:e]] = np.count_nonzero((probes > 0) != enrolled[slot], axis=1)
    return out


def face_distances(
    psi: SignBinarizer, x: NDArray[np.float32], pairs: NDArray[np.int64]
) -> NDArray[np.int32]:
    """Hamming distances of the face-only scheme's bits of ``x[pairs[:, 0]]`` and ``x[pairs[:, 1]]``."""
    bits, _ = psi.bits(x)
    packed = np.packbits(bits, axis=1)
    out = np.empty(len(pairs), dtype=np.int32)
    for s in range(0, len(pairs), 200_000):
        p = pairs[s : s + 200_000]
        out[s : s + len(p)] = np.bitwise_count(packed[p[:, 0]] ^ packed[p[:, 1]]).sum(axis=1)
    return out


def error_rate_sweep(code: BCHCode, gen: NDArray[np.int32], imp: NDArray[np.int32]) -> list[dict[str, float]]:
    """FRR and FAR of a bounded-distance decoder for every t of ``code``'s length.

    ``gen`` and ``imp`` are genuine and impostor Hamming distances; decoding
    succeeds exactly when the distance is at most t. Rows ``{"t", "k", "frr", "far"}``
    for t = 1, 2, ... while a BCH code of that length and t exists.
    """
    gs, im = np.sort(gen), np.sort(imp)
    rows = []
    for t in range(1, code.full_length // 2):
        try:
            k = BCHCode(code.m, t, code.n).k
        except FuzzyKeyError:
            break
        frr = 1.0 - np.searchsorted(gs, t, side="right") / len(gs)
        far = np.searchsorted(im, t, side="right") / len(im)
        rows.append({"t": t, "k": k, "frr": float(frr), "far": float(far)})
    return rows


def _far_bits(far: float, n: int) -> tuple[float, bool]:
    """−log2 FAR, or of the 95 % upper bound 3/N when no impostor got through."""
    return (-math.log2(far), False) if far > 0 else (-math.log2(3.0 / n), True)


def run_bench(cfg: BenchConfig, echo: Callable[[str], None] = click.echo) -> dict[str, Any]:
    """Run the benchmark described in the module docstring; returns the JSON document."""
    from .datasets import embed_files, lfw_pair_paths, read_image_folder, read_lfw_pairs
    from .detect import YuNetDetector
    from .metrics import degrees_of_freedom, eer, fnmr_at_fmr, gaussian_mi_bits

    rng = np.random.default_rng(cfg.seed)
    folder = read_image_folder(cfg.images)
    pairs_file = read_lfw_pairs(cfg.pairs) if cfg.pairs is not None else []
    kg = _make_keygen(cfg)
    detector = YuNetDetector()

    t_start = time.perf_counter()
    with click.progressbar(
        length=len(folder.files), label="embedding", file=None, hidden=not cfg.progress
    ) as bar:
        embedded = embed_files(folder.files, detector, kg.encoder, progress=bar.update)
    for reason in embedded.failures.values():
        echo(f"skipped: {reason}")
    t_embed = time.perf_counter() - t_start
    ok = np.flatnonzero(embedded.ok)
    if len(ok) < 2:
        raise InvalidArgument(f"fewer than two images with a face in {str(cfg.images)!r}")
    x = embedded.embeddings[ok]
    labels = folder.labels[ok]
    index_of = {folder.files[i]: n for n, i in enumerate(ok)}

    genuine = genuine_pairs(labels)
    if not len(genuine):
        raise InvalidArgument(f"no person in {str(cfg.images)!r} has two images with a face")
    impostors, n_cross = impostor_pairs(labels, cfg.impostors, rng)
    file_gen: list[tuple[int, int]] = []
    file_imp: list[tuple[int, int]] = []
    missing = 0
    for pair in pairs_file:
        a, b = lfw_pair_paths(folder.root, pair)
        if a in index_of and b in index_of:
            (file_gen if pair.genuine else file_imp).append((index_of[a], index_of[b]))
        else:
            missing += 1
    if missing:
        echo(f"pairs file: {missing} pairs name images that are missing or have no face; skipped")
    fg = np.asarray(file_gen, dtype=np.int64).reshape(-1, 2)
    fi = np.asarray(file_imp, dtype=np.int64).reshape(-1, 2)
    all_imp = np.concatenate([fi, impostors])
    echo(
        f"{len(x)} images of {len(np.unique(labels))} people; {len(genuine):,} genuine pairs, "
        f"{len(all_imp):,} impostor pairs ({len(fi)} from the pairs file, "
        f"{len(impostors):,} {'= all' if len(impostors) == n_cross else 'sampled at random of'} "
        f"{n_cross:,} cross-person pairs)"
    )

    # encoder alone
    cos_g = np.sum(x[genuine[:, 0]] * x[genuine[:, 1]], axis=1)
    cos_i = np.sum(x[all_imp[:, 0]] * x[all_imp[:, 1]], axis=1)
    encoder_fig: dict[str, Any] = {
        "name": kg.encoder_name,
        "eer": eer(cos_g, cos_i),
        "fnmr_at_fmr_0.01": fnmr_at_fmr(cos_g, cos_i, 1e-2),
        "fnmr_at_fmr_0.001": fnmr_at_fmr(cos_g, cos_i, 1e-3),
        "fnmr_at_fmr_0.0001": fnmr_at_fmr(cos_g, cos_i, 1e-4),
        "mi_bound_bits": gaussian_mi_bits(x, labels) if _enough_repeats(labels, x.shape[1]) else None,
    }
    if len(fg) and len(fi):
        fcg = np.sum(x[fg[:, 0]] * x[fg[:, 1]], axis=1)
        fci = np.sum(x[fi[:, 0]] * x[fi[:, 1]], axis=1)
        encoder_fig["pairs_file"] = {"eer": eer(fcg, fci), "n_genuine": len(fg), "n_impostor": len(fi)}

    schemes: dict[str, Any] = {}
    timing: dict[str, float] = {}
    for name in ("secret", "face-only"):
        t0 = time.perf_counter()
        code = kg.secret_code if name == "secret" else kg.face_code
        every = np.concatenate([genuine, all_imp, fg])
        if name == "secret":
            dist = secret_distances(kg.secret_binarizer, x, every, rng)
        else:
            dist = face_distances(kg.face_binarizer, x, every)
        d_gen = dist[: len(genuine)]
        d_imp = dist[len(genuine) : len(genuine) + len(all_imp)]
        d_fg = dist[len(genuine) + len(all_imp) :]
        timing[f"{name}_distances"] = time.perf_counter() - t0
        curve = error_rate_sweep(code, d_gen, d_imp)
        ok_points = [r for r in curve if r["far"] <= FAR_TARGET]
        best = min(ok_points, key=lambda r: (r["frr"], -r["k"])) if ok_points else None
        default = next(r for r in curve if r["t"] == code.t)
        scheme = _scheme_figures(kg, name, best, default, d_imp, code, len(genuine), len(all_imp), curve)
        t1 = time.perf_counter()
        scheme["pairs_file"] = _pairs_file_check(kg, name, x, fg, fi, d_fg, code)
        timing[f"{name}_pairs_file"] = time.perf_counter() - t1
        dof = degrees_of_freedom(d_imp / code.n)
        t1 = time.perf_counter()
        link = _unlinkability(kg, name, x, labels, cfg.link_pairs, rng)
        timing[f"{name}_unlinkability"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        if best is not None:
            kg_key = _with_code(kg, name, BCHCode(code.m, int(best["t"]), code.n))
            scheme["security"].update(_attacks(kg_key, name, x, labels, cfg, rng, dof))
        scheme["security"]["unlinkability_dsys"] = link
        scheme["security"]["unlinkability_dsys_means"] = (
            "Gomez-Barrero et al. 2018 D<->sys of a linkage score between two helpers of one person vs two "
            "people, at KeyGen's default t (0: unlinkable, 1: fully linkable)"
        )
        default_security = _attacks(kg, name, x, labels, cfg, rng, dof)
        default_security["far_bits"] = scheme["security"].pop("default_point_far_bits")
        default_security["far_bits_is_upper_bound_of_far"] = scheme["security"].pop(
            "default_point_far_bits_is_bound"
        )
        default_security["code_k_bits"] = code.k
        scheme["default_point"]["security"] = default_security
        timing[f"{name}_attacks"] = time.perf_counter() - t1
        timing[name] = time.perf_counter() - t0
        schemes[name] = scheme
        parts = ", ".join(
            f"{part} {timing[f'{name}_{part}']:.0f} s"
            for part in ("distances", "pairs_file", "unlinkability", "attacks")
        )
        echo(f"{name}: done in {timing[name]:.0f} s ({parts})")

    throughput = _throughput([folder.files[i] for i in ok[:50]], detector, kg)
    doc: dict[str, Any] = {
        "default": "secret",
        "data": {
            "images": str(folder.root),
            "pairs": str(cfg.pairs) if cfg.pairs else None,
            "n_images": len(x),
            "n_people": int(len(np.unique(labels))),
            "skipped_images": len(embedded.failures),
            "cross_person_pairs": n_cross,
        },
        "encoder": encoder_fig,
        "schemes": schemes,
        "throughput": throughput,
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


def _enough_repeats(labels: NDArray[np.int64], dim: int) -> bool:
    counts = np.bincount(labels)
    return int(np.sum(counts[counts >= 2] - 1)) >= dim


def _scheme_figures(
    kg: KeyGen,
    name: str,
    best: dict[str, float] | None,
    default: dict[str, float],
    d_imp: NDArray[np.int32],
    code: BCHCode,
    n_gen: int,
    n_imp: int,
    curve: list[dict[str, float]],
) -> dict[str, Any]:
    def point(row: dict[str, float] | None) -> dict[str, Any] | None:
        if row is None:
            return None
        return {
            "frr": row["frr"],
            "far": row["far"],
            "n_genuine": n_gen,
            "n_impostor": n_imp,
            "t": int(row["t"]),
            "k": int(row["k"]),
            "n": code.n,
        }

    key = point(best)
    far_bits, bound = _far_bits(key["far"], n_imp) if key else (0.0, False)
    d_far_bits, d_bound = _far_bits(default["far"], n_imp)
    return {
        "key": key,
        "default_point": point(default),
        "security": {
            "code_k_bits": key["k"] if key else None,
            "code_k_bits_means": "upper bound: with code-offset, H(w | helper) <= k (2^k guesses)",
            "dof": None,
            "far_bits": far_bits,
            "far_bits_is_upper_bound_of_far": bound,
            "default_point_far_bits": d_far_bits,
            "default_point_far_bits_is_bound": d_bound,
        },
        "curve": [{"t": r["t"], "k": r["k"], "frr": r["frr"], "far": r["far"]} for r in curve],
    }


def _with_code(kg: KeyGen, name: str, code: BCHCode) -> KeyGen:
    """``kg`` with another code for one scheme (same encoder, detector and binarizers)."""
    return KeyGen(
        detector=kg._detector,
        encoder=kg._encoder,
        secret_binarizer=kg.secret_binarizer,
        secret_code=code if name == "secret" else kg.secret_code,
        face_binarizer=kg.face_binarizer,
        face_code=code if name == "face-only" else kg.face_code,
    )


def _pairs_file_check(
    kg: KeyGen,
    name: str,
    x: NDArray[np.float32],
    fg: NDArray[np.int64],
    fi: NDArray[np.int64],
    d_fg: NDArray[np.int32],
    code: BCHCode,
) -> dict[str, Any] | None:
    """The pairs file's pairs through the real KeyGen path at the default t."""
    if not len(fg) and not len(fi):
        return None
    out: dict[str, Any] = {}
    for label, pairs in (("genuine", fg), ("impostor", fi)):
        got = 0
        for a, b in pairs:
            secret = os.urandom(32) if name == "secret" else None
            enrollment = kg.enroll_embedding(x[a], secret=secret)
            key = kg.reproduce_embeddings(x[b][None], enrollment.helper, secret=secret)[0]
            if key is not None and key != enrollment.key:
                raise FuzzyKeyError("a wrong key came out of KeyGen; this is a bug")
            got += key is not None
        rate = got / len(pairs) if len(pairs) else None
        out[label] = {"keys_reproduced": rate, "n": len(pairs)}
    if name == "face-only" and len(fg):
        predicted = float(np.mean(d_fg <= code.t))
        out["genuine"]["predicted_from_distances"] = predicted
    out["t"] = code.t
    return out


def _attacks(
    kg: KeyGen,
    name: str,
    x: NDArray[np.float32],
    labels: NDArray[np.int64],
    cfg: BenchConfig,
    rng: np.random.Generator,
    dof: float,
) -> dict[str, Any]:
    from .attacks import dictionary_attack, structural_attack

    n = min(cfg.attack_helpers, len(x))
    enrolled = rng.choice(len(x), size=n, replace=False)
    secrets = [os.urandom(32) if name == "secret" else None for _ in range(n)]
    helpers = [kg.enroll_embedding(x[i], secret=s).helper for i, s in zip(enrolled, secrets, strict=True)]
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
        "attacks_at_t": (kg.secret_code if name == "secret" else kg.face_code).t,
        "dictionary_attack": [{"guesses": g, "success": s} for g, s in d.curve()],
        "dictionary_attack_means": (
            "fraction of helpers opened by trying other people's photos in order"
            + (", with the enrollee's stolen secret" if name == "secret" else "")
        ),
    }


def _unlinkability(
    kg: KeyGen,
    name: str,
    x: NDArray[np.float32],
    labels: NDArray[np.int64],
    n_pairs: int,
    rng: np.random.Generator,
) -> float | None:
    """D<->sys of two helpers of one person (each its own enrollment and secret) vs two people."""
    from .linkability import dsys, face_only_linkage_scores, secret_linkage_scores

    mated = genuine_pairs(labels)
    if not len(mated):
        return None
    mated = mated[rng.permutation(len(mated))[:n_pairs]]
    non, _ = impostor_pairs(labels, len(mated), rng)
    both = np.concatenate([mated, non])
    helpers = [
        kg.enroll_embedding(x[i], secret=os.urandom(32) if name == "secret" else None).helper
        for i in both.ravel()
    ]
    pairs = np.arange(len(helpers)).reshape(-1, 2)
    scorer = secret_linkage_scores if name == "secret" else face_only_linkage_scores
    scores = scorer(kg, helpers, pairs)
    # 20 histogram bins: with a few hundred scores per side, 100 bins read ~0.1 high (estimator bias)
    return float(dsys(scores[: len(mated)], scores[len(mated) :], bins=20))


def _throughput(files: Sequence[Path], detector: Any, kg: KeyGen) -> dict[str, float]:
    t0 = time.perf_counter()
    crops = np.stack([detector.detect_and_align(f).crop for f in files])
    t_det = time.perf_counter() - t0
    kg.encoder.embed(crops[:2])
    t0 = time.perf_counter()
    emb = kg.encoder.embed(crops)
    t_emb = time.perf_counter() - t0
    psi = kg.secret_binarizer
    secret = os.urandom(32)
    fe = kg._extractor("secret")
    t0 = time.perf_counter()
    seeds = [psi.rotation_seed(secret, os.urandom(16)) for _ in emb]
    enrolled = [psi.enroll(row[None], [s]) for row, s in zip(emb, seeds, strict=True)]
    t_bin = time.perf_counter() - t0
    t0 = time.perf_counter()
    made = [fe.generate(b[0], secret=secret) for b, _ in enrolled]
    t_ext = time.perf_counter() - t0
    t0 = time.perf_counter()
    for (bits, _), (key, helper) in zip(enrolled, made, strict=True):
        if fe.reproduce(bits[0], helper, secret=secret) != key:
            raise FuzzyKeyError("throughput run: a key was not reproduced from its own bits")
    t_rep = time.perf_counter() - t0
    n = len(files)
    return {
        "photos": n,
        "detection_per_s": n / t_det,
        "embedding_per_s": n / t_emb,
        "binarization_per_s": n / t_bin,
        "extraction_enroll_per_s": n / t_ext,
        "extraction_reproduce_per_s": n / t_rep,
    }


def _print_tables(doc: dict[str, Any], echo: Callable[[str], None]) -> None:
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
    rows = [head]
    for name, s in doc["schemes"].items():
        link = s["security"]["unlinkability_dsys"]
        for label, p in (("FAR<=0.1%", s["key"]), ("default", s["default_point"])):
            if p is None:
                rows.append((name, label, "-", "-", "-", "-", "-", "-", "-", "-", "-"))
                continue
            sec = s["security"] if label != "default" else p["security"]
            dictionary = sec["dictionary_attack"]
            last = dictionary[-1] if dictionary else {"guesses": 0, "success": 0.0}
            fb, bound = _far_bits(p["far"], p["n_impostor"])
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
    tp = doc["throughput"]
    echo("")
    echo(
        f"throughput (photos/s, {tp['photos']} photos): detection {tp['detection_per_s']:.1f}, embedding "
        f"{tp['embedding_per_s']:.1f}, binarization {tp['binarization_per_s']:.1f}, extraction "
        f"{tp['extraction_enroll_per_s']:.0f} (enroll) / {tp['extraction_reproduce_per_s']:.0f} (reproduce)"
    )
    echo(
        "k: code-offset bound on key entropy given the helper; "
        "structural: keys recovered from helpers alone; "
        "dictionary: helpers opened by other people's photos (secret scheme: with the stolen secret); "
        "D_sys: linkability of two helpers of one person (0 = unlinkable, 1 = fully linkable)"
    )


def _plot(doc: dict[str, Any], cos_g: NDArray[Any], cos_i: NDArray[Any], path: Path) -> None:
    from .metrics import det_curve
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
    plot_det(curves, path, title=f"DET: {doc['data']['n_images']} images, {doc['data']['n_people']} people")


@click.command("bench")
@click.option(
    "--images",
    type=click.Path(path_type=Path),
    default=None,
    help="image folder, one subfolder per person [default: ../shared/data/lfw-dev/images]",
)
@click.option(
    "--pairs",
    type=click.Path(path_type=Path),
    default=None,
    help="LFW pairs file [default: pairsDevTrain.txt beside the default images; none otherwise]",
)
@click.option(
    "--json", "json_out", type=click.Path(path_type=Path), default=None, help="write the results as JSON"
)
@click.option("--plot", type=click.Path(path_type=Path), default=None, help="write DET curves as a PNG")
@click.option(
    "--encoder", default="sface", show_default=True, help="'sface' or the path of an ONNX face encoder"
)
@click.option(
    "--binarizer",
    default="select:1023:32768",
    show_default=True,
    help="secret scheme's binarizer, select:N_BITS:N_CANDIDATES",
)
@click.option(
    "--face-binarizer",
    default="sign:1023",
    show_default=True,
    help="face-only scheme's binarizer, sign:N_BITS",
)
@click.option("--code", default="10,155", show_default=True, help="secret scheme's BCH code M,T")
@click.option("--face-code", default="10,223", show_default=True, help="face-only scheme's BCH code M,T")
@click.option(
    "--impostors",
    default=1_000_000,
    show_default=True,
    help="cross-person pairs to sample when there are more",
)
@click.option("--seed", default=20261122, show_default=True, help="seed of the sampling and the secrets")
@click.option("--quiet", is_flag=True, help="no progress bar")
def bench_command(
    images: Path | None,
    pairs: Path | None,
    json_out: Path | None,
    plot: Path | None,
    encoder: str,
    binarizer: str,
    face_binarizer: str,
    code: str,
    face_code: str,
    impostors: int,
    seed: int,
    quiet: bool,
) -> None:
    """Measure key FRR/FAR (DET curves), security figures and throughput on a face set."""
    from .datasets import default_data_dir

    if images is None:
        images = default_data_dir() / "lfw-dev" / "images"
        if pairs is None:
            pairs = images.parent / "pairsDevTrain.txt"
    if impostors < 1:
        raise click.BadParameter(f"must be >= 1, got {impostors}", param_hint="--impostors")
    cfg = BenchConfig(
        images=images,
        pairs=pairs,
        json_out=json_out,
        plot=plot,
        encoder=encoder,
        binarizer=binarizer,
        face_binarizer=face_binarizer,
        code=code,
        face_code=face_code,
        impostors=impostors,
        seed=seed,
        progress=not quiet,
    )
    try:
        run_bench(cfg)
    except FuzzyKeyError as exc:
        from .cli import EXIT_MODEL, EXIT_USAGE, fail

        bad_input = isinstance(exc, (InvalidArgument, InvalidImage))
        raise fail(str(exc), EXIT_USAGE if bad_input else EXIT_MODEL) from None
