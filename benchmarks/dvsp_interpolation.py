"""Are DVSP's failed attacks real robustness or a gradient problem? A gradient-free check on MNIST.

Retrains DVSP exactly as ``fuzzykey robustness mnist`` does (same split, seed and defaults, so
the same network), reruns the same 900 Carlini-Wagner attacks, and for every attacked pair also
walks the straight line from ``x1`` to ``x2``: the smallest ``alpha`` on a grid of 101 values
with ``cos(f(x1 + alpha (x2 - x1)), f(x2)) >= T`` gives an upper bound ``alpha ||x2 - x1||`` on
the effort that needs no gradient (it always succeeds: ``alpha = 1`` is ``x2`` itself). If the CW
failures were gradient masking, the line would often be short where CW failed.

    python benchmarks/dvsp_interpolation.py                      # the command's defaults
    python benchmarks/dvsp_interpolation.py --fgsm-eps 0.1 --beta 1e-3

Prints one JSON object: CW RI over successes and failures, the line bound's mean over all
attacks and over the CW failures, how often the line beat a successful CW attack, and the mean
of min(CW, line) over the CW successes (a stricter RI than the command's).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from fuzzykey.evaluation import robustness_mnist as rb
from fuzzykey.evaluation.metrics import cosine_scores, eer_threshold
from fuzzykey.robust.robustness import robustness_index


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=None, help="MNIST folder [default: <data>/mnist]")
    p.add_argument("--radius", type=float, default=rb.DVSP_RADIUS)
    p.add_argument("--beta", type=float, default=rb.DVSP_BETA)
    p.add_argument("--fgsm-eps", type=float, default=rb.FGSM_EPS)
    args = p.parse_args()
    cfg = rb.MnistConfig()  # the command's defaults: epochs, seed, attack budget
    images, labels = rb.load_mnist(args.data or rb.default_mnist_dir())
    x, y = rb.to_tensor(images), torch.from_numpy(labels)
    x_tr, y_tr, x_te, y_te = x[: rb.N_TRAIN], y[: rb.N_TRAIN], x[-rb.N_TEST :], y[-rb.N_TEST :]
    backbone, head = rb.train_method(
        "dvsp",
        x_tr,
        y_tr,
        epochs=cfg.epochs,
        seed=cfg.seed,
        eps=args.fgsm_eps,
        radius=args.radius,
        beta=args.beta,
    )
    model = rb.FeatureModel(backbone, head).eval()
    for q in model.parameters():
        q.requires_grad_(False)
    with torch.no_grad():
        feats = model(x_te)
    t = eer_threshold(*cosine_scores(feats, y_te.numpy()))
    t0 = time.perf_counter()
    res = robustness_index(
        model,
        x_te,
        y_te.numpy(),
        t,
        pairs_per_class_pair=cfg.pairs_per_class_pair,
        seed=cfg.seed,
        steps=cfg.attack_steps,
        search_steps=cfg.search_steps,
        lr=cfg.attack_lr,
    )
    x1, x2 = x_te[torch.from_numpy(res.source_index)], x_te[torch.from_numpy(res.target_index)]
    d = x2 - x1
    with torch.no_grad():
        f2 = model(x2)
        first = torch.ones(len(x1))
        for a in torch.linspace(1, 0, 101):
            hit = torch.nn.functional.cosine_similarity(model(x1 + a * d).flatten(1), f2.flatten(1)) >= t
            first = torch.where(hit, a, first)
    line = (first * d.flatten(1).norm(dim=1)).numpy().astype(np.float64)
    failed = ~res.success
    both = np.minimum(res.l2, line)
    print(
        json.dumps(
            {
                "fgsm_eps": args.fgsm_eps,
                "beta": args.beta,
                "radius": args.radius,
                "threshold": t,
                "cw_ri_successes": res.ri,
                "cw_failures": int(failed.sum()),
                "attempts": res.attempts,
                "line_mean_all": float(line.mean()),
                "line_mean_on_cw_failures": float(line[failed].mean()) if failed.any() else None,
                "line_shorter_than_successful_cw": int((line[~failed] < res.l2[~failed]).sum()),
                "min_cw_line_mean_on_cw_successes": float(both[~failed].mean()),
                "min_cw_line_mean_all": float(both.mean()),
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
