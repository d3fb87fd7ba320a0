"""Zero-leakage face keys on LFW-dev half B: FRR, impostor keys, guesswork, leakage.

Half B's people were never used to fit anything (the transform, its
hyper-parameters and the gate come from half A, ``benchmarks/fit_discriminant.py``).

* Genuine: one photo: every same-person pair among a person's first 6 photos
  (enroll on the first of the pair); three photos: enroll on photos 1-3, probe
  with each of photos 4-6.
* Impostors: ``--impostors`` attempts (default 300,000; at k = 24 the first 20,000,
  as each word takes ~20 ms to decode on the development machine): a random other person's
  photo against a person's enrollment (first photo, or photos 1-3).
* Outcomes are counted from the decoder (a key comes out exactly when the
  maximum-likelihood codeword is the enrolled one and the gate accepts), for
  face-only and for two-factor with the secret stolen (each enrollment its own
  secret and nonce, the impostor holding it). ``--realpath`` attempts
  (default 2,000, half genuine) also run through ``ZeroLeakageKeys`` with the
  default Argon2id and the tag, and must agree exactly.
* Guesswork (k = 16, face-only): an attacker ranks all 2^k codewords by their
  likelihood given the stored positions, using P(bit | position bin) estimated
  on half A (16 bins per coordinate); the rank of the true codeword.
* Leakage: the plug-in mutual information between each bit and its position
  (16 bins, Miller-Madow corrected) on half B enrollments, and a
  Kolmogorov-Smirnov test of the positions' uniformity.

Run (about an hour on 2 shared cores; the real-path check is ~20 min of it)::

    python benchmarks/zero_leakage.py --json benchmarks/results/zero_leakage.json \\
        --md benchmarks/results/zero_leakage.md --write-security \\
        --plot benchmarks/results/zero_leakage.png --linkability

``--from-json FILE`` adds the sweep and plot (``--plot``) and the linkability
(``--linkability``) to an earlier run's JSON instead of running everything again.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from _machine import command_line, cpu_model
from numpy.typing import NDArray

from fuzzykey.evaluation.datasets import default_data_dir, embed_files, lfw_half, read_image_folder
from fuzzykey.face.detect import YuNetDetector
from fuzzykey.face.encoders import SFaceEncoder
from fuzzykey.facekeys import ZeroLeakageKeys
from fuzzykey.zeroleak import verification_scores

FIRST = 6
BINS = 16
K24_IMPOSTORS = 20_000


def load(data: str | None) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.bool_]]:
    root = (default_data_dir() if data is None else __import__("pathlib").Path(data)) / "lfw-dev"
    folder = read_image_folder(root / "images")
    emb = embed_files(folder.files, YuNetDetector(), SFaceEncoder())
    half_b = np.array([lfw_half(folder.people[i]) == "b" for i in folder.labels]) & emb.ok
    return emb.embeddings.astype(np.float64), folder.labels, half_b


def trials(
    labels: NDArray[np.int64], mask: NDArray[np.bool_], photos: int, impostors: int, rng: np.random.Generator
) -> tuple[list[tuple[NDArray[np.int64], int]], list[tuple[NDArray[np.int64], int]]]:
    idx = np.flatnonzero(mask)
    people = {int(p): idx[labels[idx] == p][:FIRST] for p in np.unique(labels[idx])}
    genuine = []
    for mine in people.values():
        if photos == 1:
            genuine += [
                (mine[a : a + 1], int(mine[b])) for a in range(len(mine)) for b in range(a + 1, len(mine))
            ]
        elif len(mine) > photos:
            genuine += [(mine[:photos], int(mine[b])) for b in range(photos, len(mine))]
    enrolled = [m[:photos] for m in people.values() if len(m) >= photos]
    pick = rng.integers(0, len(enrolled), impostors)
    probes = rng.choice(idx, impostors)
    imp = [
        (enrolled[e], int(p))
        for e, p in zip(pick, probes, strict=True)
        if labels[enrolled[e][0]] != labels[p]
    ]
    return genuine, imp


def outcomes(
    zk: ZeroLeakageKeys,
    x: NDArray[np.float64],
    attempts: list[tuple[NDArray[np.int64], int]],
    two_factor: bool,
    rng: np.random.Generator,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(decoded to the enrolled codeword, and also passed the gate) per attempt."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, (e, _) in enumerate(attempts):
        groups.setdefault(tuple(e.tolist()), []).append(i)
    decoded = np.zeros(len(attempts), bool)
    gated = np.zeros(len(attempts), bool)
    llrs = np.zeros((len(attempts), zk.code.n), np.float32)
    scores_args = []
    for e, rows in groups.items():
        secret = rng.bytes(32) if two_factor else None
        nonce = rng.bytes(16) if two_factor else b""
        bits, pos, m = zk.enroll_state(x[list(e)], secret=secret, nonce=nonce)
        probes = x[[attempts[r][1] for r in rows]]
        llr, y, rho, dither = zk.probe_llrs(probes, pos, m, secret=secret, nonce=nonce)
        llrs[rows] = llr * (1.0 - 2.0 * bits)  # relative to the enrolled bits: success = message 0
        scores_args.append((rows, y, bits, pos, rho, dither))
    msgs, _ = zk.code.ml_decode_batch(llrs)
    decoded = ~msgs.any(axis=1)
    for rows, y, bits, pos, rho, dither in scores_args:
        s = verification_scores(y, np.broadcast_to(bits, y.shape), pos, rho, dither)
        gated[rows] = decoded[rows] & (s >= zk.gate)
    return decoded, gated


def far_bits(keys: int, attempts: int) -> dict[str, Any]:
    upper = (keys + 3.0) / attempts if keys == 0 else min(1.0, (keys + 2.0 * math.sqrt(keys) + 2) / attempts)
    return {
        "keys": keys,
        "attempts": attempts,
        "far": keys / attempts,
        "minus_log2_far_95": -math.log2(upper),
        "rule": "0 keys: rule of three; else a rough 95 % bound",
    }


def guesswork(
    zk: ZeroLeakageKeys,
    x: NDArray[np.float64],
    labels: NDArray[np.int64],
    half_b: NDArray[np.bool_],
    helpers: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Ranks of the true codeword when an attacker orders codewords by P(bits | positions) from half A."""
    half_a = ~half_b & np.isfinite(x).all(axis=1)
    n = zk.code.n
    za = x[half_a]
    bits_a, pos_a = zk.enroll_state(za[:1])[:2]
    table = np.zeros((n, BINS, 2))
    for row in za:
        b, p, _ = zk.enroll_state(row)
        table[np.arange(n), p.astype(np.int64) * BINS >> 16, b] += 1
    del bits_a, pos_a
    leak = np.log((table[..., 0] + 1) / (table[..., 1] + 1))  # LLR of bit 0 given the bin
    k = zk.k
    msgs = ((np.arange(1 << k)[:, None] >> np.arange(k)) & 1).astype(np.uint8)
    signs = 1.0 - 2.0 * zk.code.encode_batch(msgs).astype(np.float32)  # (2^k, n)
    idx_b = np.flatnonzero(half_b)
    firsts = [int(idx_b[labels[idx_b] == p][0]) for p in np.unique(labels[idx_b])]
    ranks = []
    for i in rng.choice(firsts, min(helpers, len(firsts)), replace=False):
        b, p, _ = zk.enroll_state(x[i])
        true_msg = rng.integers(0, 2, k, dtype=np.uint8)
        c = zk.code.encode(true_msg)
        sketch = b ^ c
        l_bits = leak[np.arange(n), p.astype(np.int64) * BINS >> 16]
        l_code = np.where(sketch == 1, -l_bits, l_bits).astype(np.float32)  # c = bits XOR sketch
        scores = signs @ l_code
        t = scores[int((true_msg.astype(np.int64) << np.arange(k)).sum())]
        ranks.append(float((scores > t).sum() + 0.5 * ((scores == t).sum() - 1) + 1))
    r = np.array(ranks)
    return {
        "k": k,
        "helpers": len(r),
        "rank_median": float(np.median(r)),
        "rank_p1": float(np.quantile(r, 0.01)),
        "rank_p10": float(np.quantile(r, 0.10)),
        "log2_mean_guesswork": float(np.log2(r.mean())),
        "uniform_would_be": 2.0 ** (k - 1) + 0.5,
    }


def leakage(
    zk: ZeroLeakageKeys, x: NDArray[np.float64], labels: NDArray[np.int64], half_b: NDArray[np.bool_]
) -> dict[str, Any]:
    from scipy import stats

    idx_b = np.flatnonzero(half_b)
    firsts = [int(idx_b[labels[idx_b] == p][0]) for p in np.unique(labels[idx_b])]
    states = [zk.enroll_state(x[i]) for i in firsts]
    bits = np.stack([s[0] for s in states])
    pos = np.stack([s[1] for s in states]).astype(np.int64) * BINS >> 16
    N, n = bits.shape
    mi = []
    for j in range(n):
        joint = np.zeros((2, BINS))
        np.add.at(joint, (bits[:, j], pos[:, j]), 1)
        pj = joint / N
        pb, pw = pj.sum(1, keepdims=True), pj.sum(0, keepdims=True)
        nz = pj > 0
        plug = float((pj[nz] * np.log2(pj[nz] / (pb @ pw)[nz])).sum())
        cells = int(nz.sum()) - int((pb > 0).sum()) - int((pw > 0).sum()) + 1
        mi.append(plug - cells / (2 * N * math.log(2)))  # Miller-Madow
    u = (np.stack([s[1] for s in states]).astype(np.float64).ravel() + 0.5) / 65536
    ks = stats.kstest(u, "uniform")
    return {
        "enrollments": N,
        "mi_bits_per_coordinate_mean": float(np.mean(mi)),
        "mi_bits_total": float(np.sum(mi)),
        "mi_bits_max": float(np.max(mi)),
        "ks_statistic": float(ks.statistic),
        "ks_p": float(ks.pvalue),
        "bits_mean": float(bits.mean()),
    }


def realpath(
    zk: ZeroLeakageKeys,
    x: NDArray[np.float64],
    genuine: list[Any],
    imp: list[Any],
    count: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Attempts through enroll/reproduce with Argon2id and the tag, against the decoder's count."""
    sample = [genuine[i] for i in rng.choice(len(genuine), count // 2, replace=False)] + [
        imp[i] for i in rng.choice(len(imp), count - count // 2, replace=False)
    ]
    dec, gated = outcomes(zk, x, sample, False, np.random.default_rng(0))
    t0 = time.perf_counter()

    def attempt(item: tuple[NDArray[np.int64], int]) -> bool:
        e, p = item
        key, helper = zk.enroll_embedding(x[e])
        return bool(zk.reproduce_embeddings(x[p][None, :], helper, threads=1)[0] == key)

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:  # Argon2id releases the GIL
        got = np.array(list(pool.map(attempt, sample)), dtype=bool)
    return {
        "attempts": len(sample),
        "keys_real_path": int(got.sum()),
        "keys_counted": int(gated.sum()),
        "disagreements": int((got != gated).sum()),
        "seconds": time.perf_counter() - t0,
        "kdf": repr(zk.extractor.kdf),
    }


def write_security(record: dict[str, Any], zk: ZeroLeakageKeys) -> None:
    """The figures KeyGen.security reports for the shipped zero-leakage pipeline (k = 16)."""
    schemes = {}
    for mode, label in (("face-only", "face-only"), ("two-factor", "two-factor, secret stolen")):
        rows = {(r["photos"], r["k"]): r for r in record["rows"] if r["mode"] == label}
        one = rows[(1, 16)]
        figures = {
            "frr": round(one["frr"], 4),
            "n_genuine": one["genuine"],
            "impostor_keys": one["impostor"]["keys"],
            "n_impostor": one["impostor"]["attempts"],
            "far_bits_95": round(one["impostor"]["minus_log2_far_95"], 2),
            "frr_3_photos_k20": round(rows[(3, 20)]["frr"], 4),
            "guesswork_log2_mean_helper_only": round(record["guesswork"]["log2_mean_guesswork"], 2),
            "zero_leakage_mi_bits_total": round(record["leakage"]["mi_bits_total"], 3),
        }
        if mode == "two-factor":
            figures["condition"] = (
                "secret stolen (the attacker holds it); without it the helper is worth the secret"
            )
        schemes[mode] = {"pipeline": zk.pipeline(mode), "figures": figures}  # type: ignore[arg-type]
    doc = {"data": "LFW-dev half B (people disjoint from the transform's fit), first 6 photos per person",
           "command": record["command"], "schemes": schemes}
    path = os.path.join(os.path.dirname(__file__), "..", "fuzzykey", "data", "security_zl_v1.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)


def linkability(x: NDArray[np.float64], labels: NDArray[np.int64], half_b: NDArray[np.bool_],
                non_mated: int = 5000) -> dict[str, Any]:
    """D<->sys of zero-leakage helpers: each person's photos 1 and 2 enrolled separately (mated)
    against two people's photos (non-mated); the KDF is cheap here (it does not change the helpers'
    public fields that the attack reads)."""
    from fuzzykey.evaluation.linkability import dsys, zero_leakage_linkage_scores
    from fuzzykey.kdf import Argon2id

    zk = ZeroLeakageKeys(kdf=Argon2id(1, 64, 1))
    rng = np.random.default_rng(11)
    idx = np.flatnonzero(half_b)
    people = [idx[labels[idx] == p] for p in np.unique(labels[idx])]
    pairs = [(int(m[0]), int(m[1])) for m in people if len(m) >= 2]
    singles = [int(m[0]) for m in people]
    non = [(int(a), int(b)) for a, b in rng.choice(singles, (non_mated, 2)) if labels[a] != labels[b]]
    out: dict[str, Any] = {"mated": len(pairs), "non_mated": len(non), "bins": 20}
    for mode in ("face-only", "two-factor", "two-factor, secrets stolen"):
        scores = []
        for group in (pairs, non):
            sec = [(rng.bytes(32), rng.bytes(32)) if mode != "face-only" else (None, None) for _ in group]
            ha = [zk.enroll_embedding(x[a], secret=s[0])[1] for (a, _), s in zip(group, sec, strict=True)]
            hb = [zk.enroll_embedding(x[b], secret=s[1])[1] for (_, b), s in zip(group, sec, strict=True)]
            stolen = mode == "two-factor, secrets stolen"
            scores.append(zero_leakage_linkage_scores(
                zk, ha, hb, secrets_a=[s[0] for s in sec] if stolen else None,
                secrets_b=[s[1] for s in sec] if stolen else None))
        out[mode] = dsys(scores[0], scores[1], bins=20)
    return out


MI_BOUND_BITS = 49.1  # README: Gaussian MI between two SFace embeddings of one person, all of LFW-dev


def frr_sweep(x: NDArray[np.float64], labels: NDArray[np.int64], half_b: NDArray[np.bool_]) -> dict[str, Any]:
    """Face-only FRR (gate included) for every code dimension, 1 and 3 enrollment photos."""
    out: dict[str, Any] = {}
    for photos in (1, 3):
        genuine, _ = trials(labels, half_b, photos, 1, np.random.default_rng(0))
        out[str(photos)] = {}
        for k in range(15, 25):
            _, gated = outcomes(ZeroLeakageKeys(k=k), x, genuine, False, np.random.default_rng(0))
            out[str(photos)][str(k)] = float(1 - gated.mean())
    return out


def plot(record: dict[str, Any], path: str) -> None:
    """FRR against security bits: k (the 2^k bound), and -log2 FAR where measured, with the MI bound."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for photos, style in (("1", "o-"), ("3", "s-")):
        sweep = record["sweep"][photos]
        ks = sorted(int(k) for k in sweep)
        ax.plot(ks, [100 * sweep[str(k)] for k in ks], style,
                label=f"zero-leakage face-only, {photos} photo{'s' if photos == '3' else ''}: k")
    for r in record["rows"]:
        if r["mode"] == "face-only":
            marker = "^" if r["photos"] == 1 else "v"
            ax.plot(r["impostor"]["minus_log2_far_95"], 100 * r["frr"], marker, color="C2", ms=8)
    ax.plot([], [], "^", color="C2", label="same, -log2 FAR (95 % bound; 1 and 3 photos)")
    ax.annotate("sign-bit face-only (older): k = 36 at 90 % FRR, off the scale", xy=(36, 24.5),
                xytext=(36, 22.5), ha="center", fontsize=7.5, color="C3",
                arrowprops={"arrowstyle": "->", "color": "C3"})
    ax.plot([123], [2.32], "P", color="C4", ms=9,
            label="secret mode: k = 123 with the secret stolen = 0 bits")
    ax.axvline(MI_BOUND_BITS, color="grey", ls="--", label=f"encoder limit: {MI_BOUND_BITS} bits MI")
    ax.axhline(10, color="grey", ls=":", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xticks([8, 16, 32, 64, 128], ["8", "16", "32", "64", "128"])
    ax.set_xlabel("security bits (log scale)")
    ax.set_ylabel("FRR, % (LFW-dev half B)")
    ax.set_ylim(0, 25)
    ax.set_xlim(8, 160)
    ax.legend(fontsize=7.5, loc="center right")
    ax.set_title("Face keys: false rejections against bits, SFace on LFW-dev half B")
    fig.tight_layout()
    fig.savefig(path, dpi=130)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--impostors", type=int, default=300_000)
    p.add_argument("--realpath", type=int, default=2000)
    p.add_argument("--guesswork-helpers", type=int, default=300)
    p.add_argument("--data", default=None)
    p.add_argument("--json")
    p.add_argument("--md")
    p.add_argument("--plot", help="also sweep k = 15..24 (genuine only) and draw FRR against bits here")
    p.add_argument("--from-json", help="take the other figures from this earlier run's JSON")
    p.add_argument("--linkability", action="store_true", help="also measure D<->sys of the helpers")
    p.add_argument("--write-security", action="store_true",
                   help="write fuzzykey/data/security_zl_v1.json (what KeyGen.security reports)")
    args = p.parse_args()
    x, labels, half_b = load(args.data)
    if args.from_json:
        with open(args.from_json) as f:
            earlier = json.load(f)
        if args.plot:
            earlier["sweep"] = frr_sweep(x, labels, half_b)
            plot(earlier, args.plot)
        if args.linkability:
            earlier["linkability"] = linkability(x, labels, half_b)
            print(json.dumps(earlier["linkability"]), flush=True)
        with open(args.from_json, "w") as f:
            json.dump(earlier, f, indent=1)
        if args.md:
            write_md(earlier, args.md)
        if args.write_security:
            write_security(earlier, ZeroLeakageKeys(k=16))
        return
    rng = np.random.default_rng(2026)
    rows = []
    for photos, ks in ((1, (16, 20)), (3, (20, 24))):
        genuine, imp = trials(labels, half_b, photos, args.impostors, rng)
        for k in ks:
            zk = ZeroLeakageKeys(k=k)
            for two_factor in (False, True):
                gd, gg = outcomes(zk, x, genuine, two_factor, rng)
                attempts = imp if k < 24 else imp[:K24_IMPOSTORS]  # k = 24 decodes ~20 ms a word here
                idd, ig = outcomes(zk, x, attempts, two_factor, rng)
                row = {
                    "photos": photos,
                    "k": k,
                    "mode": "two-factor, secret stolen" if two_factor else "face-only",
                    "genuine": len(genuine),
                    "frr_decoder": float(1 - gd.mean()),
                    "frr": float(1 - gg.mean()),
                    "impostor_decoded": int(idd.sum()),
                    "impostor": far_bits(int(ig.sum()), len(attempts)),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    zk16 = ZeroLeakageKeys(k=16)
    guess = guesswork(zk16, x, labels, half_b, args.guesswork_helpers, rng)
    print(json.dumps(guess), flush=True)
    leak = leakage(zk16, x, labels, half_b)
    print(json.dumps(leak), flush=True)
    genuine, imp = trials(labels, half_b, 1, 20_000, np.random.default_rng(5))
    real = realpath(zk16, x, genuine, imp, args.realpath, np.random.default_rng(6)) if args.realpath else {}
    print(json.dumps(real), flush=True)
    sweep = frr_sweep(x, labels, half_b) if args.plot else {}
    record = {
        "sweep": sweep,
        "command": command_line(),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count()},
        "transform": repr(zk16.transform),
        "gate": zk16.gate,
        "rows": rows,
        "guesswork": guess,
        "leakage": leak,
        "realpath": real,
    }
    if args.linkability:
        record["linkability"] = linkability(x, labels, half_b)
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


def table(record: dict[str, Any]) -> list[str]:
    lines = [
        "| photos | k | mode | genuine | FRR (decoder only) | FRR (with gate) | impostor keys / attempts "
        "(decoded to the enrolled codeword) | -log2 FAR (95 %) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in record["rows"]:
        lines.append(
            f"| {r['photos']} | {r['k']} | {r['mode']} | {r['genuine']} | {100 * r['frr_decoder']:.1f} % | "
            f"{100 * r['frr']:.1f} % | {r['impostor']['keys']} / {r['impostor']['attempts']:,} "
            f"({r['impostor_decoded']}) | >= {r['impostor']['minus_log2_far_95']:.1f} |"
        )
    return lines


def write_md(record: dict[str, Any], path: str) -> None:
    parts = ["# Zero-leakage face keys on LFW-dev half B", "`" + record["command"] + "`",
             "Machine: " + json.dumps(record.get("machine", {})), "\n".join(table(record))]
    for name in ("guesswork", "leakage", "realpath", "linkability", "sweep"):
        if record.get(name):
            parts.append(f"{name}: `" + json.dumps(record[name]) + "`")
    with open(path, "w") as f:
        f.write("\n\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
