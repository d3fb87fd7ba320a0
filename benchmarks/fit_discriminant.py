"""Fit the SFace discriminant transform shipped in ``fuzzykey/data/sface_discriminant.json``.

Only LFW-dev half A (``fuzzykey.evaluation.datasets.lfw_half``) is used:

1. half A's people are split again by SHA-256 of their name (second byte < 160:
   fit, else validation);
2. for each ``shrink`` in SHRINKS and ``rho_scale`` in SCALES the transform is
   fitted on the fit people and scored on the validation people: the FRR of the
   face-only zero-leakage key (one enrollment photo, k = 16, every same-person
   pair of a person's first 6 photos); the pair with the lowest FRR wins (ties:
   the first in grid order);
3. the verification gate's threshold (with the fit-people transform) is the
   score that a fraction GATE_FMR of 2,000,000 validation impostor pairs reach
   when the enrolled bits are taken as decoded: P(gate passes) bounds the key
   FAR of the gate and the decoder together, whatever their correlation (the
   impostors whose probes decode are look-alikes, whose gate scores are high);
   the transform is then fitted again on all of half A with the chosen values;
4. the JSON is written with its provenance (data, counts, command, grid).

Run (a minute on 2 cores once the embedding cache is warm)::

    python benchmarks/fit_discriminant.py --out fuzzykey/data/sface_discriminant.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
from typing import Any

import numpy as np
from _machine import command_line
from numpy.typing import NDArray

from fuzzykey.discriminant import DiscriminantTransform
from fuzzykey.evaluation.datasets import default_data_dir, embed_files, lfw_half, read_image_folder
from fuzzykey.face.detect import YuNetDetector
from fuzzykey.face.encoders import SFaceEncoder
from fuzzykey.zeroleak import bit_llrs, quantize, verification_scores, zero_leakage_code

SHRINKS = (0.0, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0)
SCALES = (0.8, 0.9, 1.0)
GATE_FMR = 5e-6
GATE_PAIRS = 2_000_000
FIRST = 6


def genuine_pairs(labels: NDArray[np.int64], mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    idx = np.flatnonzero(mask)
    out = []
    for p in np.unique(labels[idx]):
        mine = idx[labels[idx] == p][:FIRST]
        out += [(mine[a], mine[b]) for a in range(len(mine)) for b in range(a + 1, len(mine))]
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def decode_one_photo(
    t: DiscriminantTransform, x: NDArray[np.float64], pairs: NDArray[np.int64], k: int
) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Which pairs decode (one enrollment photo), and the gate's score of each."""
    z = t.apply(x)
    rho = t.rho_for(1)
    r = t.rho * t.rho_scale
    enrolled = z[pairs[:, 0]] / np.sqrt(r + (1.0 - r))
    bits, pos = quantize(enrolled)
    probe = z[pairs[:, 1]]
    llr = bit_llrs(probe, pos, rho) * (1.0 - 2.0 * bits)  # relative to the enrolled bits
    msgs, _ = zero_leakage_code(k).ml_decode_batch(llr.astype(np.float32))
    ok = ~msgs.any(axis=1)
    return ok, verification_scores(probe, bits, pos, rho)


def gate_scores_of_impostors(
    t: DiscriminantTransform, x: NDArray[np.float64], labels: NDArray[np.int64], mask: NDArray[np.bool_],
    count: int, rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Gate scores of random impostor pairs (first photo enrolled, with its own bits as if decoded)."""
    idx = np.flatnonzero(mask)
    firsts = np.array([idx[labels[idx] == p][0] for p in np.unique(labels[idx])])
    z = t.apply(x)
    r = t.rho * t.rho_scale
    bits, pos = quantize(z[firsts] / np.sqrt(r + (1.0 - r)))
    rho = t.rho_for(1)
    out = []
    for _ in range(0, count, 200_000):
        e = rng.integers(0, len(firsts), 200_000)
        p = rng.choice(idx, 200_000)
        keep = labels[firsts[e]] != labels[p]
        e, p = e[keep], p[keep]
        out.append(verification_scores(z[p], bits[e], pos[e], rho))
    return np.concatenate(out)


def select_and_fit(
    x: NDArray[np.float64],
    labels: NDArray[np.int64],
    names: list[str],
    half_a: NDArray[np.bool_],
    *,
    name: str,
    data: str,
) -> DiscriminantTransform:
    """Steps 1-3 of the module docs on unit-norm embeddings ``x`` (one row per photo, ``names`` by row):
    the transform fitted on all of ``half_a`` with the hyper-parameters and gate chosen on its validation
    people, its provenance (``data`` describes the embeddings) inside."""
    fit_part = np.array([hashlib.sha256(n.encode()).digest()[1] < 160 for n in names])
    a1, a2 = half_a & fit_part, half_a & ~fit_part
    pairs = genuine_pairs(labels, a2)
    grid: list[dict[str, Any]] = []
    for shrink in SHRINKS:
        for scale in SCALES:
            t = DiscriminantTransform.fit(x[a1], labels[a1], shrink=shrink, rho_scale=scale)
            ok, _ = decode_one_photo(t, x, pairs, 16)
            grid.append({"shrink": shrink, "rho_scale": scale, "validation_frr_k16": float(1 - ok.mean())})
            print(grid[-1], flush=True)
    best = min(grid, key=lambda g: g["validation_frr_k16"])
    t1 = DiscriminantTransform.fit(
        x[a1], labels[a1], shrink=best["shrink"], rho_scale=best["rho_scale"]
    )
    ok, scores = decode_one_photo(t1, x, pairs, 16)
    impostor_scores = gate_scores_of_impostors(t1, x, labels, a2, GATE_PAIRS, np.random.default_rng(1))
    gate = float(np.quantile(impostor_scores, 1.0 - GATE_FMR))
    gate_frr = float(1.0 - (ok & (scores >= gate)).mean())
    provenance = {
        "data": data,
        "images_half_a": int(half_a.sum()),
        "people_half_a": len({names[i] for i in np.flatnonzero(half_a)}),
        "validation": "half A people with SHA-256(name)[1] >= 160; hyper-parameters by the lowest FRR "
        "of the face-only key (1 photo, k = 16) over their first-6-photo pairs",
        "validation_pairs": len(pairs),
        "grid": grid,
        "shrink": best["shrink"],
        "cap": 6,
        "gate": gate,
        "gate_rule": f"the gate score that {GATE_FMR:g} of {len(impostor_scores):,} validation impostor "
        "pairs (a person's first photo enrolled, another validation person's photo as the probe, the "
        "enrolled bits taken as decoded) reach: an upper bound on the key FAR of the gate and the decoder "
        "together",
        "gate_validation_frr_k16": gate_frr,
        "command": command_line(),
    }
    return DiscriminantTransform.fit(
        x[half_a],
        labels[half_a],
        shrink=best["shrink"],
        rho_scale=best["rho_scale"],
        name=name,
        provenance=provenance,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--out", required=True)
    p.add_argument("--data", default=None, help="shared data folder (default: ../shared/data)")
    args = p.parse_args()
    root = (default_data_dir() if args.data is None else __import__("pathlib").Path(args.data)) / "lfw-dev"
    folder = read_image_folder(root / "images")
    emb = embed_files(folder.files, YuNetDetector(), SFaceEncoder())
    x = emb.embeddings.astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    names = [folder.people[i] for i in folder.labels]
    half_a = np.array([lfw_half(n) == "a" for n in names]) & emb.ok
    t = select_and_fit(
        x, folder.labels, names, half_a,
        name="sface-2021dec-int8bq/lfw-dev-half-a/zl1",
        data="LFW-dev (../shared/data/lfw-dev, View 1 training people), half A only "
        "(fuzzykey.evaluation.datasets.lfw_half); unit-norm SFace embeddings of YuNet crops",
    )
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(t.to_json() + "\n")
    print(json.dumps({k: v for k, v in t.provenance.items() if k != "grid"}, indent=1))


if __name__ == "__main__":
    main()
