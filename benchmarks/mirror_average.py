"""A measured lead for the face keys: SFace averaged over a photo and its mirror image.

Test-time mirroring is a common way to get more out of a face encoder: embed
the aligned crop and its left-right mirror and use the unit-norm sum. Here it is
measured for the zero-leakage face keys, both variants through the same steps:

1. every LFW-dev photo embedded with SFace (the shipped pipeline) and with the
   mirror average (YuNet's largest face, the same crop);
2. for each, ``fit_discriminant.select_and_fit`` on half A only: shrink and rho
   scale chosen on half A's validation people, the gate at validation impostor
   FMR 5e-6 (the shipped rule), the transform fitted again on all of half A;
   for the plain variant this is the shipped transform, digest for digest;
3. on half B (people never used to fit anything), with
   :func:`fuzzykey.evaluation.zlbench.measure_zero_leakage`'s counting: the
   face-only FRR (1 photo, k = 16; 3 photos, k = 20) and the keys that every
   other half-B person's photo opens; and, paired on the same genuine attempts,
   how many open only with one variant (exact McNemar test).

The library does not use the mirror average (helpers record one encoder; a
second would need its own transform, gate and helper version); this script
keeps the measurement reproducible.

Run (about 20 minutes on 2 cores, most of it embedding the mirrored crops once)::

    python benchmarks/mirror_average.py --json benchmarks/results/mirror_average.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from _machine import command_line, cpu_model
from fit_discriminant import select_and_fit
from numpy.typing import NDArray
from scipy.stats import binomtest

from fuzzykey.discriminant import DiscriminantTransform, sface_discriminant
from fuzzykey.evaluation.datasets import default_data_dir, embed_files, lfw_half, read_image_folder
from fuzzykey.evaluation.zlbench import count_keys, dictionary_keys, enrollments, far_bound, genuine_attempts
from fuzzykey.face.detect import YuNetDetector
from fuzzykey.face.encoders import SFaceEncoder, check_faces, normalize_rows
from fuzzykey.facekeys import ZeroLeakageKeys

FIRST = 6
ROWS = ((1, 16), (3, 20))


class MirrorAveraged:
    """A :class:`~fuzzykey.face.encoders.FaceEncoder`: the unit-norm sum of ``inner``'s embeddings
    of each crop and of its left-right mirror."""

    def __init__(self, inner: SFaceEncoder) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return f"{self.inner.name}+mirror"

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def input_size(self) -> int:
        return self.inner.input_size

    def embed(self, faces: Any) -> NDArray[np.float32]:
        f = check_faces(faces, self.input_size)
        both = self.inner.embed(f) + self.inner.embed(np.ascontiguousarray(f[:, :, ::-1]))
        return normalize_rows(both)


def half_b_figures(
    transform: DiscriminantTransform, x: NDArray[np.float64], labels: NDArray[np.int64], names: list[str]
) -> tuple[list[dict[str, Any]], list[NDArray[np.bool_]]]:
    """Face-only FRR and every-other-person keys on half B, as measure_zero_leakage counts them;
    and which genuine attempts gave the key, per row."""
    rows = []
    outcomes = []
    for photos, k in ROWS:
        z = ZeroLeakageKeys(transform, k=k)  # the gate: the transform's (its provenance)
        genuine = genuine_attempts(labels, photos, first=FIRST)
        _, keys = count_keys(z, x, genuine)
        outcomes.append(keys)
        d = dictionary_keys(z, x, labels, enrollments(labels, photos, first=FIRST))
        rows.append({
            "photos": photos,
            "k": k,
            "genuine": len(genuine),
            "frr": float(1.0 - keys.mean()),
            "impostor": far_bound(d.keys, d.attempts),
            "impostor_key_pairs": sorted([names[int(labels[a])], names[int(labels[b])]] for a, b in d.hits),
        })
        print(json.dumps({key: v for key, v in rows[-1].items() if key != "impostor_key_pairs"}), flush=True)
    return rows, outcomes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--json", required=True, help="where the record goes")
    p.add_argument("--data", default=None, help="shared data folder (default: ../shared/data)")
    args = p.parse_args()
    root = (default_data_dir() if args.data is None else Path(args.data)) / "lfw-dev"
    folder = read_image_folder(root / "images")
    names = [folder.people[i] for i in folder.labels]
    is_a = np.array([lfw_half(n) == "a" for n in names])
    detector, sface = YuNetDetector(), SFaceEncoder()
    record: dict[str, Any] = {"command": command_line(), "machine": {"cpu": cpu_model()}, "variants": {}}
    outcomes: dict[str, list[NDArray[np.bool_]]] = {}
    embedded: dict[str, NDArray[np.bool_]] = {}
    for label, encoder in (("sface", sface), ("sface+mirror", MirrorAveraged(sface))):
        t0 = time.perf_counter()
        emb = embed_files(folder.files, detector, encoder)
        embedded[label] = emb.ok
        x = emb.embeddings.astype(np.float64)
        x[emb.ok] /= np.linalg.norm(x[emb.ok], axis=1, keepdims=True)
        transform = select_and_fit(
            x, folder.labels, names, is_a & emb.ok, name=f"{encoder.name}/lfw-dev-half-a/zl1",
            data=f"LFW-dev half A; unit-norm {encoder.name} embeddings of YuNet crops",
        )
        b = ~is_a & emb.ok
        people_b, lab_b = np.unique(folder.labels[b], return_inverse=True)
        rows, outcomes[label] = half_b_figures(
            transform, x[b], lab_b.astype(np.int64), [folder.people[p] for p in people_b]
        )
        record["variants"][label] = {
            "encoder": encoder.name,
            "transform_digest": transform.digest,
            "same_as_shipped": transform.digest == sface_discriminant().digest,
            "shrink": transform.provenance["shrink"],
            "rho_scale": transform.rho_scale,
            "gate": transform.provenance["gate"],
            "validation_pairs": transform.provenance["validation_pairs"],
            "validation_frr_k16_gate": transform.provenance["gate_validation_frr_k16"],
            "half_b_images": int(b.sum()),
            "half_b": rows,
            "seconds": time.perf_counter() - t0,
        }
    if not np.array_equal(embedded["sface"], embedded["sface+mirror"]):  # same crops, so never expected
        raise SystemExit("the variants embedded different photos; their genuine attempts cannot be paired")
    record["paired"] = []
    for (photos, k), plain, mirror in zip(ROWS, outcomes["sface"], outcomes["sface+mirror"], strict=True):
        only_mirror, only_plain = int((mirror & ~plain).sum()), int((plain & ~mirror).sum())
        record["paired"].append({
            "photos": photos,
            "k": k,
            "genuine": len(plain),
            "keys_only_with_mirror": only_mirror,
            "keys_only_without": only_plain,
            "mcnemar_exact_p": float(binomtest(only_mirror, only_mirror + only_plain, 0.5).pvalue)
            if only_mirror + only_plain else 1.0,
        })
        print(json.dumps(record["paired"][-1]), flush=True)
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
