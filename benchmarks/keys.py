"""Key error rates, attacks and throughput of KeyGen on a real face set (default: LFW dev).

What it measures
----------------
1. Every image under ``DATA/lfw-dev/images`` is detected (YuNet), aligned and
   embedded (SFace) once; embeddings are cached (``fuzzykey.datasets``), so a
   second run starts at once. Images without a face are reported and skipped.
2. People are split in two halves by the first byte of SHA-256(name): half A
   (< 128) gave the mean vector shipped in ``fuzzykey/data/sface_mean.json`` and
   chose the secret mode's t (the largest with FAR <= 1e-4 there:
   ``--people a``); every figure below is on half B, people never used for
   fitting anything.
3. Genuine attempts: for each half-B person with two or more photos (their first
   ``--max-per-person``), every ordered pair: enroll one photo, reproduce from
   the other. Impostor attempts: each enrollment against ``--impostors-per-helper``
   photos of other half-B people drawn at random; in the secret mode the
   impostor uses the enrollee's secret (the attacker has stolen it).
   Both run through ``KeyGen.enroll_embedding`` / ``reproduce_embeddings``,
   the real path (binarizer, BCH decoding, tag check, HKDF).
4. The code strength sweep: from the same attempts' Hamming distances, FRR and
   FAR for every t of the length-n BCH code (a bounded-distance decoder
   succeeds exactly when the distance is <= t; the real path's figures at the
   default t must equal the sweep's, which is checked).
5. The encoder alone: cosine similarity on the same pairs (EER, FNMR at FMR
   1e-2, 1e-3, 1e-4), and the Gaussian mutual-information bound between two
   embeddings of one person (``fuzzykey.metrics.gaussian_mi_bits``, all people).
6. Attacks (``fuzzykey.attacks``): the structural attack on helpers alone and
   with the stolen secret; the dictionary attack (other people's embeddings,
   in order) as success against number of guesses.
7. Throughput on ``--throughput-images`` photos: detection (decode, YuNet,
   alignment), embedding (SFace, batches of 32), binarization and extraction.

Run it
------
    python benchmarks/keys.py --json keys.json
    python benchmarks/keys.py --json keys.json --write-security   # refresh fuzzykey/data/security_v1.json
"""

from __future__ import annotations

import argparse
import json
import math
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
from fuzzykey import BCHCode, KeyGen  # noqa: E402
from fuzzykey.attacks import dictionary_attack, structural_attack  # noqa: E402
from fuzzykey.datasets import default_data_dir, embed_files, lfw_half, read_image_folder  # noqa: E402
from fuzzykey.detect import YuNetDetector  # noqa: E402
from fuzzykey.encoders import SFaceEncoder  # noqa: E402
from fuzzykey.metrics import degrees_of_freedom, eer, fnmr_at_fmr, gaussian_mi_bits  # noqa: E402


def rule_of_three(events: int, trials: int) -> float:
    """FAR to quote: the observed rate, or the 95 % upper bound 3/N when none occurred."""
    return events / trials if events else 3.0 / trials


def bits_of(
    kg: KeyGen, mode: str, enroll_emb: np.ndarray, probes: np.ndarray, secret: bytes | None, nonce: bytes
) -> tuple[np.ndarray, np.ndarray]:
    """Enrolled bits and probe bits exactly as KeyGen computes them (for the t sweep)."""
    if mode == "secret":
        psi = kg.secret_binarizer
        seed = psi.rotation_seed(secret or b"", nonce)
        bits, sel = psi.enroll(enroll_emb[None], [seed])
        pb, _ = psi.reproduce(probes, [seed], sel[0].astype(np.int64))
        return bits[0], pb
    psi_f = kg.face_binarizer
    bits, _ = psi_f.bits(enroll_emb[None])
    pb, _ = psi_f.bits(probes)
    return bits[0], pb


def run_mode(
    kg: KeyGen,
    mode: str,
    emb: np.ndarray,
    labels: np.ndarray,
    enroll_idx: np.ndarray,
    rng: np.random.Generator,
    impostors_per_helper: int,
) -> dict[str, Any]:
    """Real-path FRR/FAR plus the Hamming distances for the sweep."""
    code = kg.secret_code if mode == "secret" else kg.face_code
    gen_ok = gen_n = imp_ok = imp_n = wrong_keys = wrong_n = 0
    gen_d: list[np.ndarray] = []
    imp_d: list[np.ndarray] = []
    helpers, secrets, owners = [], [], []
    enrolled_bits: list[np.ndarray] = []
    pool = np.arange(len(emb))
    t0 = time.perf_counter()
    for count, i in enumerate(enroll_idx):
        secret = os.urandom(32) if mode == "secret" else None
        enrollment = kg.enroll_embedding(emb[i], secret=secret)
        helpers.append(enrollment.helper)
        secrets.append(secret)
        owners.append(labels[i])
        same = np.flatnonzero((labels == labels[i]) & (pool != i))
        others = pool[labels != labels[i]]
        imp = rng.choice(others, size=min(impostors_per_helper, len(others)), replace=False)
        keys = kg.reproduce_embeddings(
            np.concatenate([emb[same], emb[imp]]), enrollment.helper, secret=secret
        )
        good = [k == enrollment.key for k in keys]
        if any(k is not None and k != enrollment.key for k in keys):
            raise RuntimeError("a wrong key came out of reproduce_embeddings")
        if secret is not None:  # the genuine photos with a wrong secret: never a key
            wrong = kg.reproduce_embeddings(emb[same], enrollment.helper, secret=os.urandom(32))
            wrong_keys += sum(k is not None for k in wrong)
            wrong_n += len(same)
        gen_ok += sum(good[: len(same)])
        gen_n += len(same)
        imp_ok += sum(good[len(same) :])
        imp_n += len(imp)
        header = json.loads(fuzzykey.HelperData.from_bytes(enrollment.helper).metadata)
        nonce = bytes.fromhex(header.get("nonce", ""))
        wb, pb = bits_of(kg, mode, emb[i], np.concatenate([emb[same], emb[imp]]), secret, nonce)
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
    predicted_gen = int(np.sum(g <= code.t))
    predicted_imp = int(np.sum(im <= code.t))
    sweep = []
    m = code.m
    for t in range(1, (code.n + 1) // 2):
        try:
            k = BCHCode(m, t, code.n).k
        except fuzzykey.InvalidArgument:
            break
        sweep.append({"t": t, "k": k, "frr": float(np.mean(g > t)), "far": float(np.mean(im <= t))})
    return {
        "mode": mode,
        "n": code.n,
        "t": code.t,
        "k": code.k,
        "frr": 1 - gen_ok / gen_n,
        "far": imp_ok / imp_n,
        "far_events": imp_ok,
        "n_genuine": gen_n,
        "n_impostor": imp_n,
        "wrong_secret_keys": wrong_keys,
        "wrong_secret_attempts": wrong_n,
        "n_enrollments": len(enroll_idx),
        "sweep_consistent": bool(predicted_gen == gen_ok and predicted_imp == imp_ok)
        if kg.erasure_trials == (0,)
        else None,
        "genuine_ber_mean": float(g.mean() / code.n),
        "impostor_ber_mean": float(im.mean() / code.n),
        "dof": degrees_of_freedom(im / code.n),
        "curve": sweep,
        "helpers": helpers,
        "secrets": secrets,
        "owners": owners,
        "enrolled_bits": enrolled_bits,
    }


def throughput(files: Sequence[Path], kg: KeyGen) -> dict[str, float]:
    """Photos/s of each stage, for enrollment and for reproduction (secret mode)."""
    det = YuNetDetector()
    enc = SFaceEncoder()
    t0 = time.perf_counter()
    crops = [det.detect_and_align(f).crop for f in files]
    t_det = time.perf_counter() - t0
    batch = np.stack(crops)
    enc.embed(batch[:2])  # session start-up is not per-photo cost
    t0 = time.perf_counter()
    emb = enc.embed(batch)
    t_emb = time.perf_counter() - t0
    secret = b"\x01" * 32
    psi = kg.secret_binarizer
    fe = kg._extractor("secret")
    seeds = [psi.rotation_seed(secret, os.urandom(16)) for _ in emb]
    t0 = time.perf_counter()
    enrolled = [psi.enroll(row[None], [seed]) for row, seed in zip(emb, seeds, strict=True)]
    t_bin_enroll = time.perf_counter() - t0
    t0 = time.perf_counter()
    made = [fe.generate(bits[0], secret=secret) for bits, _ in enrolled]
    t_ext_enroll = time.perf_counter() - t0
    t0 = time.perf_counter()
    probes = [
        psi.reproduce(row[None], [seed], sel[0].astype(np.int64))[0][0]
        for row, seed, (_, sel) in zip(emb, seeds, enrolled, strict=True)
    ]
    t_bin_rep = time.perf_counter() - t0
    t0 = time.perf_counter()
    for bits, (key, helper) in zip(probes, made, strict=True):
        if fe.reproduce(bits, helper, secret=secret) != key:
            raise RuntimeError("throughput run: key not reproduced from the enrollment photo itself")
    t_ext_rep = time.perf_counter() - t0
    n = len(files)
    per = {"detection": t_det / n, "embedding": t_emb / n}
    enroll = {**per, "binarization": t_bin_enroll / n, "extraction": t_ext_enroll / n}
    reproduce = {**per, "binarization": t_bin_rep / n, "extraction": t_ext_rep / n}
    out: dict[str, float] = {"photos": n}
    for name, parts in (("enroll", enroll), ("reproduce", reproduce)):
        for stage, sec in parts.items():
            out[f"{name}_{stage}_per_s"] = 1.0 / sec
        out[f"{name}_total_per_s"] = 1.0 / sum(parts.values())
    return out


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

    t0 = time.perf_counter()
    done = [0]

    def progress(k: int) -> None:
        done[0] += k
        if done[0] % 1000 < k or done[0] == len(folder.files):
            print(
                f"  embedded {done[0]}/{len(folder.files)} photos ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )

    embedded = embed_files(folder.files, YuNetDetector(), SFaceEncoder(), progress=progress)
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
    # first max_per_person photos of people with >= 2
    keep = np.zeros(len(emb), dtype=bool)
    for person in np.unique(labels):
        idx = np.flatnonzero(labels == person)
        if len(idx) >= 2:
            keep[idx[: args.max_per_person]] = True
    enroll_idx = np.flatnonzero(keep)
    print(
        f"half {args.people.upper()}: {len(np.unique(labels))} people, {len(emb)} photos; "
        f"{len(enroll_idx)} enrollment photos of {len(np.unique(labels[keep]))} people with 2+ photos"
    )

    # encoder alone on the same genuine pairs and random impostor pairs
    gi = [(i, j) for i in enroll_idx for j in enroll_idx if i != j and labels[i] == labels[j]]
    gpairs = np.array(gi)
    ipairs = rng.integers(0, len(emb), size=(400_000, 2))
    ipairs = ipairs[labels[ipairs[:, 0]] != labels[ipairs[:, 1]]]
    gcos = np.sum(emb[gpairs[:, 0]] * emb[gpairs[:, 1]], axis=1)
    icos = np.sum(emb[ipairs[:, 0]] * emb[ipairs[:, 1]], axis=1)
    encoder = {
        "eer": eer(gcos, icos),
        "fnmr_at_fmr_0.01": fnmr_at_fmr(gcos, icos, 1e-2),
        "fnmr_at_fmr_0.001": fnmr_at_fmr(gcos, icos, 1e-3),
        "fnmr_at_fmr_0.0001": fnmr_at_fmr(gcos, icos, 1e-4),
        "mi_bound_bits": mi_bits,
        "n_genuine": len(gpairs),
        "n_impostor": len(ipairs),
    }
    print(
        f"encoder (cosine): EER {encoder['eer']:.2%}, FNMR {encoder['fnmr_at_fmr_0.001']:.2%} at FMR 0.1 %, "
        f"{encoder['fnmr_at_fmr_0.0001']:.2%} at FMR 0.01 %; MI bound {mi_bits:.1f} bits"
    )

    kg = KeyGen.from_pretrained()
    results: dict[str, dict[str, Any]] = {}
    t0 = time.perf_counter()
    results["secret"] = run_mode(kg, "secret", emb, labels, enroll_idx, rng, args.impostors_per_helper)
    print(f"secret mode done in {time.perf_counter() - t0:.0f} s")
    t0 = time.perf_counter()
    results["face-only"] = run_mode(kg, "face-only", emb, labels, enroll_idx, rng, args.impostors_per_helper)
    print(f"face-only mode done in {time.perf_counter() - t0:.0f} s")

    # errors-and-erasures variant of the secret mode
    trials = tuple(int(x) for x in args.erasures.split(","))
    kg_e = KeyGen.from_pretrained(erasure_trials=trials)
    sub = enroll_idx[:: max(1, len(enroll_idx) // 800)]
    results["secret+erasures"] = run_mode(kg_e, "secret", emb, labels, sub, rng, args.impostors_per_helper)
    results["secret+erasures"]["erasure_trials"] = list(trials)
    base_sub = run_mode(
        kg, "secret", emb, labels, sub, np.random.default_rng(args.seed + 1), args.impostors_per_helper
    )

    # multi-image enrollment (face-only and secret): average of 3, probes = the rest
    multi: dict[str, Any] = {}
    for mode in ("secret", "face-only"):
        ok_n = tot = 0
        for person in np.unique(labels):
            idx = np.flatnonzero(labels == person)[:8]
            if len(idx) < 4:
                continue
            secret = os.urandom(32) if mode == "secret" else None
            e = kg.enroll_embedding(emb[idx[:3]], secret=secret)
            keys = kg.reproduce_embeddings(emb[idx[3:]], e.helper, secret=secret)
            ok_n += sum(k == e.key for k in keys)
            tot += len(keys)
        multi[mode] = {"frr": 1 - ok_n / tot, "n_genuine": tot}

    # attacks
    attacks: dict[str, Any] = {}
    n_att = min(args.attack_helpers, len(enroll_idx))
    sec = results["secret"]
    helper_only = [structural_attack(kg, h) for h in sec["helpers"][:n_att]]
    stolen = [
        structural_attack(kg, h, secret=s)
        for h, s in zip(sec["helpers"][:n_att], sec["secrets"][:n_att], strict=True)
    ]
    fo = results["face-only"]
    face_struct = [structural_attack(kg, h, budget=1 << 20) for h in fo["helpers"][:n_att]]
    dict_idx = rng.permutation(len(emb))[: args.dictionary_size]
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
    attacks["secret"] = {
        "structural_helper_only_keys": sum(r.key is not None for r in helper_only),
        "structural_helper_only_bits_recovered": float(np.mean([max(a, 1 - a) for a in recovered])),
        "wrong_secret_keys": sec["wrong_secret_keys"],
        "wrong_secret_attempts": sec["wrong_secret_attempts"],
        "structural_stolen_secret_keys": sum(r.key is not None for r in stolen),
        "helpers": n_att,
        "dictionary": d_secret.curve(),
    }
    attacks["face-only"] = {
        "structural_keys": sum(r.key is not None for r in face_struct),
        "structural_work_bits": face_struct[0].work_bits if face_struct else None,
        "helpers": n_att,
        "dictionary": d_face.curve(),
    }

    tput = throughput(folder.files[: args.throughput_images], kg)

    # -- report -----------------------------------------------------------------
    print()
    print("| scheme | n | t | k | FRR | FAR | impostor attempts | -log2 FAR | dof | multi-image FRR |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in ("secret", "face-only"):
        r = results[name]
        far_q = rule_of_three(r["far_events"], r["n_impostor"])
        bound = "" if r["far_events"] else " (0 seen; 3/N)"
        print(
            f"| {name} | {r['n']} | {r['t']} | {r['k']} | {r['frr']:.2%} | {r['far']:.4%} | "
            f"{r['n_impostor']:,} | "
            f"{-math.log2(far_q):.1f}{bound} | {r['dof']:.1f} | {multi[name]['frr']:.2%} |"
        )
    er = results["secret+erasures"]
    print(
        f"\nerasures {trials} on {len(sub)} enrollments: FRR {er['frr']:.2%} FAR {er['far']:.4%} vs plain "
        f"FRR {base_sub['frr']:.2%} FAR {base_sub['far']:.4%}"
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
    print(f"\nattacks on {n_att} helpers each:")
    print(
        f"  secret mode, structural, helper only: {attacks['secret']['structural_helper_only_keys']} keys "
        f"(enrolled bits recovered up to sign: "
        f"{attacks['secret']['structural_helper_only_bits_recovered']:.1%}; they are the secretly rotated "
        "face's, useless without the secret)"
    )
    print(
        f"  secret mode, genuine photos with a wrong secret: {sec['wrong_secret_keys']} keys in "
        f"{sec['wrong_secret_attempts']:,} attempts"
    )
    print(
        "  secret mode, structural, helper + stolen secret: "
        f"{attacks['secret']['structural_stolen_secret_keys']} keys"
    )
    print(
        "  face-only, structural (enumeration, budget 2^20): "
        f"{attacks['face-only']['structural_keys']} keys; "
        f"full enumeration needs 2^{kg.face_code.k}"
    )
    print(
        f"  dictionary ({args.dictionary_size} other people's photos), secret stolen: "
        f"{d_secret.curve()[-1][1]:.2%} of helpers; face-only: {d_face.curve()[-1][1]:.2%}"
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
                    "far_bits": -math.log2(
                        rule_of_three(results[name]["far_events"], results[name]["n_impostor"])
                    ),
                    **attacks[name],
                },
                "curve": results[name]["curve"],
            }
            for name in ("secret", "face-only")
        },
        "erasures": {
            "trials": list(trials),
            "frr": er["frr"],
            "far": er["far"],
            "baseline_frr": base_sub["frr"],
            "baseline_far": base_sub["far"],
            "n_genuine": er["n_genuine"],
            "n_impostor": er["n_impostor"],
        },
        "throughput": tput,
        "key_to_encoder_acceptance": ratio,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(payload, indent=1), encoding="utf-8")
        print(f"wrote {args.json}")
    if args.write_security:
        doc = {
            "data": f"LFW dev half B (people disjoint from the mean's), {len(enroll_idx)} enrollment photos",
            "command": payload["command"],
            "schemes": {},
        }
        for mode in ("secret", "face-only"):
            r = results[mode]
            code = kg.secret_code if mode == "secret" else kg.face_code
            doc["schemes"][mode] = {
                "pipeline": kg._pipeline(mode, code),
                "figures": {
                    "frr": round(r["frr"], 5),
                    "far": round(r["far"], 7),
                    "n_genuine": r["n_genuine"],
                    "n_impostor": r["n_impostor"],
                    "far_bits": round(-math.log2(rule_of_three(r["far_events"], r["n_impostor"])), 2),
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
