"""Choosing the template generator's loss weights on half A's validation people.

Each trial trains a small generator (width 8, depth 3) for 3 epochs on the first 600
training crops of half A (:func:`fuzzykey.evaluation.templates_eval.select_photos`, split
``"train"``) and judges it on up to 400 photos (10 per person at most) of half A's
validation people, whom no generator trains on: mean SSIM and PSNR of G(x) to x, mean
cosine of F(G(x)) to F(x), and the EER and FNMR at FMR 1e-3 of SFace x vs x', G(x) vs x'
and G(x) vs G(x') over every pair of those photos. Half B is not touched. One torch
thread per trial, so each trial repeats bit for bit.

The shipped generator (``fuzzykey/data/templates_unet_v1.npz``) took the best trial's
weights, which ``fuzzykey templates train`` now has as defaults, and trained on every
half-A training photo for 5 epochs.

Run (about 6 minutes a trial on one core; two trials side by side on 2 cores)::

    python benchmarks/templates_select.py --json benchmarks/results/templates_select.json
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

TRIALS: dict[str, dict[str, Any]] = {
    # distortion reward only (the papers' loss): L1 with the Sobel mask
    "l1": {"distortion_weight": 3.0, "ssim_weight": 0.0},
    # L1 and the SSIM reward: the shipped choice
    "l1+ssim": {"distortion_weight": 3.0, "ssim_weight": 1.0},
    # mostly SSIM
    "ssim": {"distortion_weight": 1.0, "ssim_weight": 4.0},
}
COMMON: dict[str, Any] = {"width": 8, "depth": 3, "epochs": 3, "batch_size": 16, "learning_rate": 0.002,
                          "margin": 0.3, "embedding_weight": 10.0, "edge_weight": 1.0, "seed": 0}


def trial(name: str, images: str, train_photos: int, val_photos: int) -> dict[str, Any]:
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from fuzzykey.evaluation import templates_eval as te
    from fuzzykey.evaluation.datasets import read_image_folder
    from fuzzykey.evaluation.metrics import eer, fnmr_at_fmr
    from fuzzykey.face.detect import YuNetDetector
    from fuzzykey.face.encoders import SFaceEncoder
    from fuzzykey.templates import TrainConfig, protect_faces, train_generator

    folder = read_image_folder(images)
    detector = YuNetDetector()

    def crops(split: str, count: int, per_person: int | None) -> tuple[Any, Any]:
        rows = te.select_photos(folder, {split}, max_photos=count, max_per_person=per_person)
        got = te.aligned_crops([folder.files[r] for r in rows], detector)
        return got.crops[got.ok], folder.labels[rows][got.ok]

    train, _ = crops("train", train_photos, None)
    val, labels = crops("validation", val_photos, 10)
    sface = SFaceEncoder(threads=1)
    config = TrainConfig(**COMMON, **TRIALS[name])
    t0 = time.perf_counter()
    result = train_generator(train, sface.torch_module(), config, validation=val[:64])
    seconds = time.perf_counter() - t0
    templates = protect_faces(result.generator, val)
    e_x, e_g = sface.embed(val).astype(np.float64), sface.embed(templates).astype(np.float64)
    i, j = np.triu_indices(len(val), 1)
    same = labels[i] == labels[j]

    def rates(a: Any, b: Any) -> dict[str, float]:
        s = np.sum(a[i] * b[j], axis=1)
        return {"eer": float(eer(s[same], s[~same])),
                "fnmr_at_fmr_0.001": float(fnmr_at_fmr(s[same], s[~same], 1e-3))}

    return {
        "trial": name, "config": config.to_dict(), "train_photos": int(len(train)),
        "validation_photos": int(len(val)), "validation_people": int(len(np.unique(labels))),
        "genuine_pairs": int(same.sum()), "impostor_pairs": int((~same).sum()),
        "train_seconds": round(seconds, 1),
        "ssim": float(te.ssim(templates, val).mean()), "psnr": float(te.psnr(templates, val).mean()),
        "cosine": float(np.sum(e_x * e_g, axis=1).mean()),
        "sface": rates(e_x, e_x), "protected_vs_original": rates(e_g, e_x),
        "protected_vs_protected": rates(e_g, e_g),
        "history": [s.to_dict() for s in result.history],
    }


def main() -> None:
    from fuzzykey.evaluation.datasets import default_data_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default=str(default_data_dir() / "lfw-dev" / "images"))
    parser.add_argument("--trials", nargs="+", default=list(TRIALS), choices=list(TRIALS))
    parser.add_argument("--train-photos", type=int, default=600)
    parser.add_argument("--validation-photos", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2, help="trials side by side, one core each")
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(trial, name, args.images, args.train_photos, args.validation_photos)
                   for name in args.trials]
        rows = [f.result() for f in futures]
    print(f"{'trial':<10}{'SSIM':>7}{'cosine':>8}{'SFace EER':>11}{'G vs x EER':>12}{'G vs G EER':>12}")
    for r in rows:
        print(f"{r['trial']:<10}{r['ssim']:>7.3f}{r['cosine']:>8.3f}{r['sface']['eer']:>11.2%}"
              f"{r['protected_vs_original']['eer']:>12.2%}{r['protected_vs_protected']['eer']:>12.2%}")
    with open(args.json, "w") as fh:
        json.dump({"benchmark": "templates_select", "common": COMMON, "trials": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
