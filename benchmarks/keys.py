"""Key error rates, attacks and throughput of KeyGen on a real face set (default: LFW dev).

What it measures
----------------
1. Every image under ``DATA/lfw-dev/images`` is detected (YuNet), aligned and
   embedded (SFace) once; embeddings are cached (``fuzzykey.evaluation.datasets``), so a
   second run starts at once. Images without a face are reported and skipped.
2. People are split in two halves by the first byte of SHA-256(name): half A
   (< 128) gave the mean vector shipped in ``fuzzykey/data/sface_mean.json`` and
   chose the secret mode's t (the largest with FAR <= 1e-4 there:
   ``--people a``); every figure below is on half B, people never used for
   fitting anything.
3. Genuine attempts: for each half-B person with two or more photos, each of
   their first ``--max-per-person`` photos enrolls and every other photo of
   theirs probes. Impostor attempts: each enrollment against
   ``--impostors-per-helper`` photos of other half-B people drawn at random; in
   the secret mode the impostor uses the enrollee's secret (the attacker has
   stolen it). Both run through KeyGen itself (``fuzzykey.evaluation.realpath``:
   binarizer, BCH decoding, tag check, HKDF).
4. The code strength sweep: from the same attempts' Hamming distances, FRR and
   FAR for every t of the length-n BCH code
   (``fuzzykey.evaluation.operating_points``: a bounded-distance decoder
   succeeds exactly when the distance is <= t; the real path's figures at the
   default t must equal the sweep's, which is checked).
5. The encoder alone: cosine similarity on the same pairs (EER, FNMR at FMR
   1e-2, 1e-3, 1e-4), and the Gaussian mutual-information bound between two
   embeddings of one person (``fuzzykey.evaluation.metrics.gaussian_mi_bits``, all people).
6. Attacks (``fuzzykey.evaluation.attacks``): the structural attack on helpers alone and
   with the stolen secret; the dictionary attack (other people's embeddings,
   in order) as success against number of guesses.
7. Throughput on ``--throughput-images`` photos (``fuzzykey.evaluation.throughput``):
   detection (decode, YuNet, alignment), embedding (SFace), binarization and extraction.

Run it
------
    python benchmarks/keys.py --json keys.json
    python benchmarks/keys.py --json keys.json --write-security   # refresh fuzzykey/data/security_v1.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import command_line, cpu_model, package_version, print_header  # noqa: E402

import fuzzykey  # noqa: E402
from fuzzykey import KeyGen  # noqa: E402
from fuzzykey.binarizers import SecretSelectBinarizer, SignBinarizer  # noqa: E402
from fuzzykey.evaluation.attacks import dictionary_attack, structural_attack  # noqa: E402
from fuzzykey.evaluation.datasets import default_data_dir, embed_files, lfw_half, read_image_folder  # noqa: E402
from fuzzykey.evaluation.metrics import degrees_of_freedom, eer, fnmr_at_fmr, gaussian_mi_bits  # noqa: E402
from fuzzykey.evaluation.operating_points import error_rate_sweep, far_bits  # noqa: E402
from fuzzykey.evaluation.pairs import first_photos, impostor_probes  # noqa: E402
from fuzzykey.evaluation.realpath import SECRET_BYTES, KeyCounts, Trial, attempts, count_keys  # noqa: E402
from fuzzykey.evaluation.throughput import measure_throughput  # noqa: E402
from fuzzykey.header import Mode, read_helper_header  # noqa: E402

MODES: tuple[Mode, Mode] = ("secret", "face-only")


def bits_of(
    kg: KeyGen, mode: Mode, enroll_emb: np.ndarray, probes: np.ndarray, secret: bytes | None, helper: bytes
) -> tuple[np.ndarray, np.ndarray]:
    """Enrolled bits and probe bits exactly as KeyGen computes them (for the t sweep)."""
    psi = kg.binarizer(mode)
    if isinstance(psi, SecretSelectBinarizer):
        _, header = read_helper_header(helper)
        seed = psi.rotation_seed(secret or b"", bytes.fromhex(header["nonce"]))
        bits, sel = psi.enroll(enroll_emb[None], [seed])
        pb, _ = psi.reproduce(probes, [seed], sel[0].astype(np.int64))
        return bits[0], pb
    if isinstance(psi, SignBinarizer):
        bits, _ = psi.bits(enroll_emb[None])
        pb, _ = psi.bits(probes)
        return bits[0], pb
    raise TypeError(f"no bit model for {type(psi).__name__}")


def run_mode(
    kg: KeyGen,
    mode: Mode,
    emb: np.ndarray,
    labels: np.ndarray,
    enroll_idx: np.ndarray,
    rng: np.random.Generator,
    impostors_per_helper: int,
) -> dict[str, Any]:
    """Real-path FRR/FAR plus the Hamming distances for the sweep."""
    code = kg.code(mode)
    rows = np.arange(len(emb))
    others = impostor_probes(labels, enroll_idx, impostors_per_helper, rng)
    trials = [
        Trial(i, genuine=np.flatnonzero((labels == labels[i]) & (rows != i)), impostors=imp)
        for i, imp in zip(enroll_idx, others, strict=True)
    ]
    counts = KeyCounts()
    wrong_keys = wrong_n = 0
    gen_d: list[np.ndarray] = []
    imp_d: list[np.ndarray] = []
    helpers, secrets, owners = [], [], []
    enrolled_bits: list[np.ndarray] = []
    t0 = time.perf_counter()
    for count, attempt in enumerate(attempts(kg, mode, emb, trials)):
        counts = counts.add(attempt)
        i, same, helper = attempt.trial.enroll[0], attempt.trial.genuine, attempt.enrollment.helper
        helpers.append(helper)
        secrets.append(attempt.secret)
        owners.append(labels[i])
        if attempt.secret is not None:  # the genuine photos with a wrong secret: never a key
            wrong = kg.reproduce_embeddings(emb[same], helper, secret=os.urandom(SECRET_BYTES))
            wrong_keys += sum(k is not None for k in wrong)
            wrong_n += len(same)
        wb, pb = bits_of(kg, mode, emb[i], emb[attempt.trial.probes], attempt.secret, helper)
        enrolled_bits.append(wb)
        dist = (pb != wb).sum(axis=1)
        gen_d.append(dist[: len(same)])
        imp_d.append(dist[len(same) :])
        if (count + 1) % 500 == 0:
            print(
                f"  {mode}: {count + 1}/{len(enroll_idx)} enrollments, {time.perf_counter() - t0:.0f} s",
                flush=True,
            )
    g = np.concatenate(gen_d)
    im = np.concatenate(imp_d)
    # consistency: the real path succeeds exactly when the distance is <= t (errors-only decoding)
    consistent = (
        int(np.sum(g <= code.t)) == counts.genuine_keys and int(np.sum(im <= code.t)) == counts.impostor_keys
    )
    return {
        "mode": mode,
        "n": code.n,
        "t": code.t,
        "k": code.k,
        "frr": counts.frr,
        "far": counts.far,
        "far_events": counts.impostor_keys,
        "n_genuine": counts.genuine,
        "n_impostor": counts.impostor,
        "wrong_secret_keys": wrong_keys,
        "wrong_secret_attempts": wrong_n,
        "n_enrollments": len(enroll_idx),
        "sweep_consistent": consistent if kg.erasure_trials == (0,) else None,
        "genuine_ber_mean": float(g.mean() / code.n),
        "impostor_ber_mean": float(im.mean() / code.n),
        "dof": degrees_of_freedom(im / code.n),
        "curve": error_rate_sweep(code, g, im),
        "helpers": helpers,
        "secrets": secrets,
        "owners": owners,
        "enrolled_bits": enrolled_bits,
    }


def multi_image_frr(kg: KeyGen, mode: Mode, emb: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Enroll the average of a person's first 3 photos; probe with their next (up to 5)."""
    trials = []
    for person in np.unique(labels):
        idx = np.flatnonzero(labels == person)[:8]
        if len(idx) >= 4:
            trials.append(Trial(idx[:3], genuine=idx[3:]))
    counts = count_keys(kg, mode, emb, trials)
    return {"frr": counts.frr, "n_genuine": counts.genuine}


def encoder_alone(
    emb: np.ndarray, labels: np.ndarray, enroll_idx: np.ndarray, mi_bits: float, rng: np.random.Generator
) -> dict[str, Any]:
    """The encoder's cosine scores on the same genuine pairs and 400,000 random impostor draws."""
    gi = [(i, j) for i in enroll_idx for j in enroll_idx if i != j and labels[i] == labels[j]]
    gpairs = np.array(gi)
    ipairs = rng.integers(0, len(emb), size=(400_000, 2))
    ipairs = ipairs[labels[ipairs[:, 0]] != labels[ipairs[:, 1]]]
    gcos = np.sum(emb[gpairs[:, 0]] * emb[gpairs[:, 1]], axis=1)
    icos = np.sum(emb[ipairs[:, 0]] * emb[ipairs[:, 1]], axis=1)
    return {
        "eer": eer(gcos, icos),
        "fnmr_at_fmr_0.01": fnmr_at_fmr(gcos, icos, 1e-2),
        "fnmr_at_fmr_0.001": fnmr_at_fmr(gcos, icos, 1e-3),
        "fnmr_at_fmr_0.0001": fnmr_at_fmr(gcos, icos, 1e-4),
        "mi_bound_bits": mi_bits,
        "n_genuine": len(gpairs),
        "n_impostor": len(ipairs),
    }


def attack_figures(
    kg: KeyGen,
    results: dict[str, dict[str, Any]],
    emb: np.ndarray,
    labels: np.ndarray,
    n_att: int,
    dictionary_size: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Structural attacks (helper alone; with the stolen secret) and dictionary attacks per mode."""
    sec, fo = results["secret"], results["face-only"]
    helper_only = [structural_attack(kg, h) for h in sec["helpers"][:n_att]]
    stolen = [
        structural_attack(kg, h, secret=s)
        for h, s in zip(sec["helpers"][:n_att], sec["secrets"][:n_att], strict=True)
    ]
    face_struct = [structural_attack(kg, h, budget=1 << 20) for h in fo["helpers"][:n_att]]
    dict_idx = rng.permutation(len(emb))[:dictionary_size]
    d_secret = dictionary_attack(
        kg,
        sec["helpers"][:n_att],
        emb[dict_idx],
        secrets=sec["secrets"][:n_att],
        exclude=sec["owners"][:n_att],
        dictionary_labels=labels[dict_idx],
    )
    d_face = dictionary_attack(
        kg,
        fo["helpers"][:n_att],
        emb[dict_idx],
        exclude=fo["owners"][:n_att],
        dictionary_labels=labels[dict_idx],
    )
    recovered = [
        float(np.mean(r.bits == wb)) if r.bits is not None else 0.0
        for r, wb in zip(helper_only, sec["enrolled_bits"][:n_att], strict=True)
    ]
    return {
        "secret": {
            "structural_helper_only_keys": sum(r.key is not None for r in helper_only),
            "structural_helper_only_bits_recovered": float(np.mean([max(a, 1 - a) for a in recovered])),
            "wrong_secret_keys": sec["wrong_secret_keys"],
            "wrong_secret_attempts": sec["wrong_secret_attempts"],
            "structural_stolen_secret_keys": sum(r.key is not None for r in stolen),
            "helpers": n_att,
            "dictionary": d_secret.curve(),
        },
        "face-only": {
            "structural_keys": sum(r.key is not None for r in face_struct),
            "structural_work_bits": face_struct[0].work_bits if face_struct else None,
            "helpers": n_att,
            "dictionary": d_face.curve(),
        },
    }


def throughput(files: Sequence[Path], kg: KeyGen) -> dict[str, float]:
    """Photos/s of each stage, for enrollment and for reproduction (secret mode)."""
    tp = measure_throughput(kg, files, "secret")
    out: dict[str, float] = {"photos": tp.photos}
    for name, parts in (("enroll", tp.enroll_seconds()), ("reproduce", tp.reproduce_seconds())):
        for stage, sec in parts.items():
            out[f"{name}_{stage}_per_s"] = 1.0 / sec
        out[f"{name}_total_per_s"] = 1.0 / sum(parts.values())
    return out


def mode_far_bits(r: dict[str, Any]) -> tuple[float, bool]:
    """-log2 FAR of a mode's real-path figures (the rule-of-three bound 3/N when none got through)."""
    return far_bits(r["far"], r["n_impostor"])


def print_report(
    kg: KeyGen,
    results: dict[str, dict[str, Any]],
    multi: dict[str, Any],
    attacks: dict[str, Any],
    erasures: dict[str, Any],
    tput: dict[str, float],
    dictionary_size: int,
) -> None:
    print()
    print("| scheme | n | t | k | FRR | FAR | impostor attempts | -log2 FAR | dof | multi-image FRR |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in MODES:
        r = results[name]
        bits, bound = mode_far_bits(r)
        print(
            f"| {name} | {r['n']} | {r['t']} | {r['k']} | {r['frr']:.2%} | {r['far']:.4%} | "
            f"{r['n_impostor']:,} | "
            f"{bits:.1f}{' (0 seen; 3/N)' if bound else ''} | {r['dof']:.1f} | {multi[name]['frr']:.2%} |"
        )
    print(
        f"\nerasures {tuple(erasures['trials'])} on {erasures['enrollments']} enrollments: "
        f"FRR {erasures['frr']:.2%} FAR {erasures['far']:.4%} vs plain "
        f"FRR {erasures['baseline_frr']:.2%} FAR {erasures['baseline_far']:.4%}"
    )
    print(
        f"sweep consistent with the real path: secret {results['secret']['sweep_consistent']}, "
        f"face-only {results['face-only']['sweep_consistent']}"
    )
    print("\nsecret mode sweep (FRR <= 5 %, FAR <= 0.1 %, k >= 64):")
    for row in results["secret"]["curve"]:
        if row["frr"] <= 0.05 and row["far"] <= 0.001 and row["k"] >= 64 and row["t"] % 5 == 0:
            print(f"  t={row['t']:4d} k={row['k']:4d} FRR {row['frr']:.2%} FAR {row['far']:.4%}")
    print("\nface-only sweep (2 <= k <= 128, every distinct k):")
    last = None
    for row in results["face-only"]["curve"][::-1]:
        if 2 <= row["k"] <= 128 and row["k"] != last:
            print(f"  t={row['t']:4d} k={row['k']:4d} FRR {row['frr']:.2%} FAR {row['far']:.4%}")
            last = row["k"]
    sec, face = attacks["secret"], attacks["face-only"]
    print(f"\nattacks on {sec['helpers']} helpers each:")
    print(
        f"  secret mode, structural, helper only: {sec['structural_helper_only_keys']} keys "
        f"(enrolled bits recovered up to sign: "
        f"{sec['structural_helper_only_bits_recovered']:.1%}; they are the secretly rotated "
        "face's, useless without the secret)"
    )
    print(
        f"  secret mode, genuine photos with a wrong secret: {sec['wrong_secret_keys']} keys in "
        f"{sec['wrong_secret_attempts']:,} attempts"
    )
    print(f"  secret mode, structural, helper + stolen secret: {sec['structural_stolen_secret_keys']} keys")
    print(
        f"  face-only, structural (enumeration, budget 2^20): {face['structural_keys']} keys; "
        f"full enumeration needs 2^{kg.face_code.k}"
    )
    print(
        f"  dictionary ({dictionary_size} other people's photos), secret stolen: "
        f"{sec['dictionary'][-1][1]:.2%} of helpers; face-only: {face['dictionary'][-1][1]:.2%}"
    )
    print(f"\nthroughput, photos/s ({tput['photos']} photos, secret mode, one process):")
    print("| | detection | embedding | binarization | extraction | total |")
    print("|---|---|---|---|---|---|")
    for name in ("enroll", "reproduce"):
        cells = " | ".join(
            f"{tput[f'{name}_{stage}_per_s']:,.1f}"
            for stage in ("detection", "embedding", "binarization", "extraction", "total")
        )
        print(f"| {name} | {cells} |")


def write_security(
    kg: KeyGen,
    results: dict[str, dict[str, Any]],
    multi: dict[str, Any],
    attacks: dict[str, Any],
    mi_bits: float,
    n_enrollments: int,
    command: str,
) -> None:
    """Refresh ``fuzzykey/data/security_v1.json`` (in the source tree when there is one)."""
    doc: dict[str, Any] = {
        "data": f"LFW dev half B (people disjoint from the mean's), {n_enrollments} enrollment photos",
        "command": command,
        "schemes": {},
    }
    for mode in MODES:
        r = results[mode]
        doc["schemes"][mode] = {
            "pipeline": kg.pipeline(mode),
            "figures": {
                "frr": round(r["frr"], 5),
                "far": round(r["far"], 7),
                "n_genuine": r["n_genuine"],
                "n_impostor": r["n_impostor"],
                "far_bits": round(mode_far_bits(r)[0], 2),
                "impostor_dof": round(r["dof"], 1),
                "multi_image_frr_3_photos": round(multi[mode]["frr"], 4),
                "attacks": attacks[mode],
                "mi_bound_bits": round(mi_bits, 1),
            },
        }
    out = Path(fuzzykey.__file__).resolve().parent / "data" / "security_v1.json"
    src = Path(__file__).resolve().parents[1] / "fuzzykey" / "data" / "security_v1.json"
    (src if src.parent.is_dir() else out).write_text(json.dumps(doc, indent=1), encoding="utf-8")
    print(f"wrote {src if src.parent.is_dir() else out}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--data", type=Path, default=None, help="shared data folder (default ../shared/data)")
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--max-per-person", type=int, default=6)
    p.add_argument(
        "--people",
        choices=("a", "b"),
        default="b",
        help="evaluate on half B (default; never used for fitting) or A (gave the mean and the default t)",
    )
    p.add_argument("--impostors-per-helper", type=int, default=60)
    p.add_argument("--attack-helpers", type=int, default=200)
    p.add_argument("--dictionary-size", type=int, default=2000)
    p.add_argument("--throughput-images", type=int, default=100)
    p.add_argument("--erasures", default="0,32,64,128", help="erasure trials for the erasure variant")
    p.add_argument("--write-security", action="store_true", help="write fuzzykey/data/security_v1.json")
    p.add_argument("--seed", type=int, default=20261122)
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    data = args.data or default_data_dir()
    folder = read_image_folder(data / "lfw-dev" / "images")
    info = {
        "fuzzykey": fuzzykey.__version__,
        "numpy": np.__version__,
        "onnxruntime": package_version("onnxruntime"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "data": str(folder.root),
    }
    print_header("fuzzykey key benchmark (KeyGen on a real face set)", info, command_line())
    kg = KeyGen.from_pretrained()

    t0 = time.perf_counter()
    done = [0]

    def progress(k: int) -> None:
        done[0] += k
        if done[0] % 1000 < k or done[0] == len(folder.files):
            print(
                f"  embedded {done[0]}/{len(folder.files)} photos ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )

    embedded = embed_files(folder.files, kg.detector, kg.encoder, progress=progress)
    print(
        f"embedding: {embedded.n_computed} computed, {len(folder.files) - embedded.n_computed} from cache, "
        f"{len(embedded.failures)} without a face, {time.perf_counter() - t0:.1f} s"
    )
    for reason in list(embedded.failures.values())[:5]:
        print(f"  skipped: {reason}")
    ok = embedded.ok
    emb_all = embedded.embeddings[ok]
    labels_all = folder.labels[ok]
    names = np.array(folder.people)[labels_all]
    mi_bits = gaussian_mi_bits(emb_all, labels_all)

    in_a = np.array([lfw_half(n) == "a" for n in names])
    in_b = in_a if args.people == "a" else ~in_a
    emb = emb_all[in_b]
    labels = labels_all[in_b]
    keep = first_photos(labels, args.max_per_person)
    enroll_idx = np.flatnonzero(keep)
    print(
        f"half {args.people.upper()}: {len(np.unique(labels))} people, {len(emb)} photos; "
        f"{len(enroll_idx)} enrollment photos of {len(np.unique(labels[keep]))} people with 2+ photos"
    )

    encoder = encoder_alone(emb, labels, enroll_idx, mi_bits, rng)
    print(
        f"encoder (cosine): EER {encoder['eer']:.2%}, FNMR {encoder['fnmr_at_fmr_0.001']:.2%} at FMR 0.1 %, "
        f"{encoder['fnmr_at_fmr_0.0001']:.2%} at FMR 0.01 %; MI bound {mi_bits:.1f} bits"
    )

    results: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        t0 = time.perf_counter()
        results[mode] = run_mode(kg, mode, emb, labels, enroll_idx, rng, args.impostors_per_helper)
        print(f"{mode} mode done in {time.perf_counter() - t0:.0f} s")

    # errors-and-erasures variant of the secret mode, against plain decoding on the same enrollments
    trials = tuple(int(x) for x in args.erasures.split(","))
    kg_e = KeyGen.from_pretrained(erasure_trials=trials)
    sub = enroll_idx[:: max(1, len(enroll_idx) // 800)]
    er = run_mode(kg_e, "secret", emb, labels, sub, rng, args.impostors_per_helper)
    base_sub = run_mode(
        kg, "secret", emb, labels, sub, np.random.default_rng(args.seed + 1), args.impostors_per_helper
    )
    erasures = {
        "trials": list(trials),
        "frr": er["frr"],
        "far": er["far"],
        "baseline_frr": base_sub["frr"],
        "baseline_far": base_sub["far"],
        "n_genuine": er["n_genuine"],
        "n_impostor": er["n_impostor"],
    }

    multi = {mode: multi_image_frr(kg, mode, emb, labels) for mode in MODES}
    n_att = min(args.attack_helpers, len(enroll_idx))
    attacks = attack_figures(kg, results, emb, labels, n_att, args.dictionary_size, rng)
    tput = throughput(folder.files[: args.throughput_images], kg)

    erasures_run = {**erasures, "enrollments": len(sub)}
    print_report(kg, results, multi, attacks, erasures_run, tput, args.dictionary_size)
    ratio = (1 - results["secret"]["frr"]) / (1 - encoder["fnmr_at_fmr_0.001"])
    print(f"key acceptance / encoder acceptance at FMR 0.1 %: {ratio:.3f}")

    payload = {
        "command": command_line(),
        "machine": info,
        "default": "secret",
        "encoder": encoder,
        "schemes": {
            name: {
                "key": {
                    k: results[name][k] for k in ("frr", "far", "n_genuine", "n_impostor", "t", "k", "n")
                },
                "ber": {
                    "genuine": results[name]["genuine_ber_mean"],
                    "impostor": results[name]["impostor_ber_mean"],
                },
                "multi_image_frr": multi[name]["frr"],
                "security": {
                    "code_k_bits": results[name]["k"],
                    "dof": results[name]["dof"],
                    "far_bits": mode_far_bits(results[name])[0],
                    **attacks[name],
                },
                "curve": results[name]["curve"],
            }
            for name in MODES
        },
        "erasures": erasures,
        "throughput": tput,
        "key_to_encoder_acceptance": ratio,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(payload, indent=1), encoding="utf-8")
        print(f"wrote {args.json}")
    if args.write_security:
        write_security(kg, results, multi, attacks, mi_bits, len(enroll_idx), payload["command"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
