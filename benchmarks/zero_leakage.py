"""Zero-leakage face keys on LFW-dev half B: FRR, every other person's photo, guesswork, leakage.

Half B's people were never used to fit anything (the transform, its
hyper-parameters and the gate come from half A, ``benchmarks/fit_discriminant.py``).
The measurements are the library's (:func:`fuzzykey.evaluation.zlbench.measure_zero_leakage`,
also run by ``fuzzykey bench``):

* Genuine: one photo: every same-person pair among a person's first 6 photos
  (enroll on the earlier photo); three photos: enroll on photos 1-3, probe
  with each of photos 4-6.
* Dictionary: every enrollment (a person's first photo, or photos 1-3) against
  every photo of every other half-B person; face-only, and two-factor with the
  secret stolen (each enrollment its own secret and nonce, the attacker holding it).
* Outcomes counted from the decoder and the gate (a key comes out exactly when
  the maximum-likelihood codeword is the enrolled one and the gate accepts).
  ``--realpath`` attempts (default 2,000, half genuine, half random impostors)
  also run through ``ZeroLeakageKeys`` with the default Argon2id and the tag,
  and must agree exactly with :func:`~fuzzykey.evaluation.zlbench.count_keys`.
* Guesswork (k = 16, one photo): an attacker ranks all 2^k codewords by their
  likelihood given the stored positions, with P(bit | position bin) from
  half A's photos; the rank of the true codeword.
* Leakage: mutual information between each bit and its position (16 bins,
  Miller-Madow corrected) over half-B enrollments, and a KS test of the
  positions' uniformity.
* Linkability: D<->sys of two helpers of one person (photos 1 and 2) against two people's.

Run (about 30 minutes on 2 shared cores; the real-path check is ~15 min of it)::

    python benchmarks/zero_leakage.py --json benchmarks/results/zero_leakage.json \\
        --md benchmarks/results/zero_leakage.md --write-security \\
        --plot benchmarks/results/zero_leakage.png
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from _machine import command_line, cpu_model
from numpy.typing import NDArray

from fuzzykey.evaluation.datasets import default_data_dir, embed_files, lfw_half, read_image_folder
from fuzzykey.evaluation.zlbench import Attempts, count_keys, genuine_attempts, measure_zero_leakage
from fuzzykey.face.detect import YuNetDetector
from fuzzykey.face.encoders import SFaceEncoder
from fuzzykey.facekeys import ZeroLeakageKeys

FIRST = 6


def load(data: str | None) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.bool_], list[str]]:
    root = (default_data_dir() if data is None else __import__("pathlib").Path(data)) / "lfw-dev"
    folder = read_image_folder(root / "images")
    emb = embed_files(folder.files, YuNetDetector(), SFaceEncoder())
    half_b = np.array([lfw_half(folder.people[i]) == "b" for i in folder.labels]) & emb.ok
    return emb.embeddings.astype(np.float64), folder.labels, half_b, list(folder.people)


def impostor_sample(labels: NDArray[np.int64], count: int, rng: np.random.Generator) -> Attempts:
    """``count`` random attempts: a person's first photo against a random other person's photo."""
    firsts = {int(p): int(np.flatnonzero(labels == p)[0]) for p in np.unique(labels)}
    enroll: list[list[int]] = []
    probe: list[int] = []
    while len(probe) < count:
        e = int(rng.choice(list(firsts.values())))
        q = int(rng.integers(len(labels)))
        if labels[q] != labels[e]:
            enroll.append([e])
            probe.append(q)
    return Attempts(np.array(enroll, dtype=np.int64), np.array(probe, dtype=np.int64))


def realpath(
    zk: ZeroLeakageKeys,
    x: NDArray[np.float64],
    labels: NDArray[np.int64],
    count: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Attempts through enroll/reproduce with Argon2id and the tag, against count_keys."""
    genuine = genuine_attempts(labels, 1, first=FIRST)
    pick = rng.choice(len(genuine), count // 2, replace=False)
    imp = impostor_sample(labels, count - count // 2, rng)
    sample = Attempts(
        np.concatenate([genuine.enroll[pick], imp.enroll]), np.concatenate([genuine.probe[pick], imp.probe])
    )
    _, counted = count_keys(zk, x, sample)
    t0 = time.perf_counter()

    def attempt(i: int) -> bool:
        key, helper = zk.enroll_embedding(x[sample.enroll[i]])
        return bool(zk.reproduce_embeddings(x[sample.probe[i]][None, :], helper, threads=1)[0] == key)

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:  # Argon2id releases the GIL
        got = np.array(list(pool.map(attempt, range(len(sample)))), dtype=bool)
    return {
        "attempts": len(sample),
        "keys_real_path": int(got.sum()),
        "keys_counted": int(counted.sum()),
        "disagreements": int((got != counted).sum()),
        "seconds": time.perf_counter() - t0,
        "kdf": repr(zk.extractor.kdf),
    }


def write_security(record: dict[str, Any], zk: ZeroLeakageKeys) -> None:
    """The figures KeyGen.security reports for the shipped zero-leakage pipeline (k = 16)."""
    zl = record["zero_leakage"]
    schemes = {}
    for mode, label in (("face-only", "face-only"), ("two-factor", "two-factor, secret stolen")):
        rows = {(r["photos"], r["k"]): r for r in zl["rows"] if r["mode"] == label}
        one = rows[(1, 16)]
        figures = {
            "frr": round(one["frr"], 4),
            "n_genuine": one["genuine"],
            "impostor_keys": one["impostor"]["keys"],
            "n_impostor": one["impostor"]["attempts"],
            "far_bits_95": round(one["impostor"]["minus_log2_far_95"], 2),
            "frr_3_photos_k20": round(rows[(3, 20)]["frr"], 4),
            "guesswork_log2_mean": round(zl["guesswork"][label]["log2_mean_guesswork"], 2),
            "zero_leakage_mi_bits_total": round(zl["leakage"]["mi_bits_total"], 3),
            "impostors": "every enrollment against every photo of every other half-B person",
        }
        if mode == "two-factor":
            figures["condition"] = (
                "secret stolen (the attacker holds it); without it the helper is worth the secret"
            )
            figures["wrong_secret_keys"] = zl["wrong_secret"]["keys"]
            figures["wrong_secret_attempts"] = zl["wrong_secret"]["attempts"]
        schemes[mode] = {"pipeline": zk.pipeline(mode), "figures": figures}  # type: ignore[arg-type]
    doc = {"data": "LFW-dev half B (people disjoint from the transform's fit), first 6 photos per person",
           "command": record["command"], "schemes": schemes}
    path = os.path.join(os.path.dirname(__file__), "..", "fuzzykey", "data", "security_zl_v1.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)


MI_BOUND_BITS = 49.1  # README: Gaussian MI between two SFace embeddings of one person, all of LFW-dev


def plot(record: dict[str, Any], path: str) -> None:
    """FRR against security bits: k (the 2^k bound), -log2 FAR of the dictionary and log2 guesswork,
    with the MI bound (``fuzzykey bench --plot`` draws the same beside the Hamming schemes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    zl = record["zero_leakage"]
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for photos, style in (("1", "o-"), ("3", "s-")):
        sweep = zl["sweep"][photos]
        ks = sorted(int(k) for k in sweep)
        ax.plot(ks, [100 * sweep[str(k)] for k in ks], style,
                label=f"face-only, {photos} photo{'s' if photos == '3' else ''}: k")
    for mode, color in (("face-only", "C2"), ("two-factor, secret stolen", "C3")):
        rows = [r for r in zl["rows"] if r["mode"] == mode]
        ax.plot([r["impostor"]["minus_log2_far_95"] for r in rows], [100 * r["frr"] for r in rows], "^",
                color=color, ms=8, label=f"{mode}: -log2 FAR, every other person (95 % bound)")
    one = next(r for r in zl["rows"] if (r["photos"], r["k"], r["mode"]) == (1, 16, "face-only"))
    ax.plot([zl["guesswork"]["face-only"]["log2_mean_guesswork"]], [100 * one["frr"]], "D", color="C4", ms=7,
            label="face-only, 1 photo: log2 mean guesswork")
    ax.axvline(MI_BOUND_BITS, color="grey", ls="--", label=f"encoder limit: {MI_BOUND_BITS} bits MI")
    ax.axhline(10, color="grey", ls=":", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xticks([8, 16, 32, 64], ["8", "16", "32", "64"])
    ax.set_xlabel("security bits (log scale)")
    ax.set_ylabel("FRR, % (LFW-dev half B)")
    ax.set_ylim(0, 25)
    ax.set_xlim(8, 80)
    ax.legend(fontsize=7.5, loc="upper left")
    ax.set_title("Zero-leakage face keys: false rejections against bits, SFace on LFW-dev half B")
    fig.tight_layout()
    fig.savefig(path, dpi=130)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--realpath", type=int, default=2000)
    p.add_argument("--guesswork-helpers", type=int, default=300)
    p.add_argument("--data", default=None)
    p.add_argument("--json")
    p.add_argument("--md")
    p.add_argument("--plot", help="draw FRR against bits here")
    p.add_argument("--write-security", action="store_true",
                   help="write fuzzykey/data/security_zl_v1.json (what KeyGen.security reports)")
    args = p.parse_args()
    x, labels, half_b, people = load(args.data)
    t0 = time.perf_counter()
    zl = measure_zero_leakage(x[half_b], labels[half_b], population=x[~half_b & finite_rows(x)], first=FIRST,
                              guesswork_helpers=args.guesswork_helpers, seed=2026, names=people)
    seconds = time.perf_counter() - t0
    print(json.dumps(zl["rows"]), flush=True)
    zk16 = ZeroLeakageKeys(k=16)
    real = {}
    if args.realpath:
        real = realpath(zk16, x[half_b], labels[half_b], args.realpath, np.random.default_rng(6))
    print(json.dumps(real), flush=True)
    record: dict[str, Any] = {
        "command": command_line(),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count()},
        "zero_leakage": zl,
        "zero_leakage_seconds": seconds,
        "realpath": real,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)
    if args.write_security:
        write_security(record, zk16)
    if args.plot:
        plot(record, args.plot)
    if args.md:
        write_md(record, args.md)
    print("\n".join(table(record)))


def finite_rows(x: NDArray[np.float64]) -> NDArray[np.bool_]:
    out: NDArray[np.bool_] = np.isfinite(x).all(axis=1) & (np.abs(x).sum(axis=1) > 0)
    return out


def table(record: dict[str, Any]) -> list[str]:
    lines = [
        "| photos | k | mode | genuine | FRR (decoder only) | FRR (with gate) | impostor keys / attempts "
        "(gate passed) | -log2 FAR (95 %) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in record["zero_leakage"]["rows"]:
        imp = r["impostor"]
        lines.append(
            f"| {r['photos']} | {r['k']} | {r['mode']} | {r['genuine']} | {100 * r['frr_decoder']:.1f} % | "
            f"{100 * r['frr']:.1f} % | {imp['keys']} / {imp['attempts']:,} "
            f"({r['gate_passed']}) | {'>= ' if imp['keys'] == 0 else ''}{imp['minus_log2_far_95']:.1f} |"
        )
    return lines


def write_md(record: dict[str, Any], path: str) -> None:
    zl = record["zero_leakage"]
    parts = ["# Zero-leakage face keys on LFW-dev half B", "`" + record["command"] + "`",
             "Machine: " + json.dumps(record.get("machine", {})), "\n".join(table(record))]
    pairs = {f"{r['photos']} photo(s), k = {r['k']}, {r['mode']}": r.get("impostor_key_pairs")
             for r in zl["rows"] if r.get("impostor_key_pairs")}
    if pairs:
        parts.append("Impostor keys (enrolled person, probe's person): `" + json.dumps(pairs) + "`")
    for name in ("guesswork", "leakage", "wrong_secret", "linkability", "sweep"):
        parts.append(f"{name}: `" + json.dumps(zl[name]) + "`")
    if record.get("realpath"):
        parts.append("realpath: `" + json.dumps(record["realpath"]) + "`")
    with open(path, "w") as f:
        f.write("\n\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
