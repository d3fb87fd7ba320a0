"""Choose DVSP's projection radius R and IB factor beta on MNIST without touching the test digits.

The paper (Xie et al., section 4.1) picks beta and R "by cross-validation such that it achieves
the best balance between EER and RI". Here: the first 6,000 of the 8,000 training digits of
``fuzzykey robustness mnist`` train, digits 6,000-7,999 validate; the last 2,000 (the command's
test split) are never read. Each grid point trains exactly as the command does (same backbone,
epochs, batch order and seed; FGSM samples of ``--fgsm-eps``) and measures EER and the robustness
index on the validation digits with ``--pairs`` attacks per ordered digit pair (the command's
attack settings). The baselines (no FGSM) are measured the same way for reference.

Run it (about 5 minutes per grid point on one core of a 2-core machine; two processes with
disjoint ``--grid`` / ``--baselines`` use both cores):

    python benchmarks/dvsp_select.py --json dvsp_select.json
    python benchmarks/dvsp_select.py --grid 1:1e-2,4:1e-3 --baselines none

Each line of output is one JSON object (also appended to ``--json``): method, R, beta, fgsm_eps,
eer (%), ri, attack failures, EER threshold, mean shell radius r and mean |mu| on the validation
digits (DVSP), seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import command_line, cpu_model  # noqa: E402

from fuzzykey.evaluation import robustness_mnist as rb  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=None, help="MNIST folder [default: <data>/mnist]")
    p.add_argument("--grid", default="1:1e-3,1:1e-2,1:0.1,4:1e-2", help="R:beta,...")
    p.add_argument("--baselines", default="sphereface,center_loss", help="comma list, or none")
    p.add_argument("--fgsm-eps", type=float, default=rb.FGSM_EPS)
    p.add_argument("--epochs", type=int, default=rb.MnistConfig.epochs)
    p.add_argument("--pairs", type=int, default=3, help="attacks per ordered digit pair")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None, help="append one JSON line per grid point")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    images, labels = rb.load_mnist(args.data or rb.default_mnist_dir())
    x, y = rb.to_tensor(images), torch.from_numpy(labels)
    x_tr, y_tr, x_va, y_va = x[:6000], y[:6000], x[6000:8000], y[6000:8000]
    runs: list[tuple[str, float, float]] = []
    for item in filter(None, args.grid.split(",")):
        radius, beta = item.split(":")
        runs.append(("dvsp", float(radius), float(beta)))
    if args.baselines != "none":
        runs += [(name, rb.DVSP_RADIUS, rb.DVSP_BETA) for name in args.baselines.split(",")]
    print(f"# {command_line()}\n# {cpu_model()}, torch threads {args.threads}", flush=True)
    for name, radius, beta in runs:
        t0 = time.perf_counter()
        backbone, head = rb.train_method(
            name,
            x_tr,
            y_tr,
            epochs=args.epochs,
            seed=rb.MnistConfig.seed,
            eps=args.fgsm_eps,
            radius=radius,
            beta=beta,
        )
        t1 = time.perf_counter()
        row: dict[str, object] = {"method": name, "fgsm_eps": args.fgsm_eps if rb.METHODS[name] else 0.0}
        if name == "dvsp":
            with torch.no_grad():
                h = backbone(x_va)
                row.update(
                    R=radius,
                    beta=beta,
                    mean_r=float(head.logvar(h).exp().mean(dim=1).mean()),
                    mean_mu_norm=float(head.mu(h).norm(dim=1).mean()),
                )
        res = rb.evaluate(
            backbone, head, x_va, y_va, pairs_per_class_pair=args.pairs, seed=rb.MnistConfig.seed
        )
        row.update(
            eer=100 * res["eer"],
            ri=res["ri"],
            attack_failures=res["attack_failures"],
            attempts=res["attempts"],
            threshold=res["threshold"],
            seconds={"train": round(t1 - t0, 1), "evaluate": round(time.perf_counter() - t1, 1)},
        )
        line = json.dumps(row)
        print(line, flush=True)
        if args.json is not None:
            with args.json.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")


if __name__ == "__main__":
    main()
