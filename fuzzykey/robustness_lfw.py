r"""``fuzzykey robustness lfw``: a DVSP head on frozen SFace embeddings, attacked in image space.

The face part of Xie et al.'s comparison ("A Deep, Information-theoretic Framework
for Robust Biometric Recognition", Table 2), on fuzzykey's own pipeline: YuNet
crops, SFace embeddings, and a DVSP head trained on top of them. This module
needs torch and is not imported by ``import fuzzykey``.

Data. An image folder with one subfolder per person (default ``<data>/lfw-dev/images``).
People are split by :func:`fuzzykey.datasets.lfw_half`: the head is trained on the
half-A people with two or more photos; every figure is measured on half B,
people the head (and the binarizers' mean vector) never saw.

Steps:

1. detect, align and embed every photo once with SFace on onnxruntime (the
   embedding cache of :mod:`fuzzykey.datasets`: a second run starts at once);
2. train :class:`~fuzzykey.dvsp.EmbeddingBackbone` + :class:`~fuzzykey.dvsp.DVSPHead`
   on the frozen half-A embeddings (one class per person), with FGSM samples of
   L2 size ``--fgsm-eps`` taken in the embedding space the head reads
   (:func:`fuzzykey.dvsp.train_step`); SFace itself is not trained;
3. **EER**: cosine similarity of all pairs of half-B photos, with plain SFace
   embeddings and with DVSP features :math:`R\,\mu/\|\mu\|`; the attack
   threshold :math:`T` of each is its EER threshold;
4. **robustness index**: ``--attacks`` pairs ``(x1, x2)`` of photos of two
   different half-B people, the same pairs for both features. For each, the
   feature-space Carlini–Wagner attack (:func:`fuzzykey.robustness.cw_feature_attack`)
   looks for the smallest L2 change of ``x1``'s aligned 112x112 RGB crop, pixels
   scaled to ``[0, 1]``, that brings :math:`\cos(f(\tilde x_1), f(x_2))` to
   :math:`T`; gradients go through the differentiable PyTorch copy of SFace
   (:meth:`fuzzykey.encoders.SFaceEncoder.torch_module`), and through the head
   for DVSP. RI is the mean L2 of the successful attacks; failures are counted
   and reported. Pairs are too few per pair of people for the paper's per-class
   matrix, so RI here is the mean over sampled pairs of people (each pair of
   people once at most), and ``median_ratio`` compares the two features on the
   pairs where both attacks succeeded;
5. **keys**: ``KeyGen`` with SFace embeddings (its defaults) and with DVSP
   features (the same binarizers and codes, centred on the mean DVSP feature of
   half A). Through ``KeyGen.enroll_embedding`` / ``reproduce_embeddings`` (the
   real path: binarizer, BCH decoding, tag, HKDF): each half-B person with 2+
   photos enrolls on their first photo and is probed with up to five of their
   other photos (genuine) and ``--keygen-impostors`` photos of other half-B
   people (impostors; in the secret mode with the enrollee's stolen secret).
   From Hamming distances computed as KeyGen's binarizers do
   (:func:`fuzzykey.bench.secret_distances`), all same-person pairs among each
   person's first six photos and ``--impostors`` random cross-person pairs give
   FRR and FAR for every t: reported at KeyGen's default t and at the lowest FRR
   with FAR at most 0.1 %.

Time (LFW dev, embeddings cached, torch on one core of a 2-core AMD EPYC whose other core
was busy): training 36 s, the 2 x 48 attacks 15 min (about 0.08 s per image and Adam step),
key rates 66 s; 17 min in all. The first run also embeds the 9,525 photos (about 5 min).
The measured figures are in README.md and ``benchmarks/results/robustness_lfw.json``.

Example:
    >>> from fuzzykey.robustness_lfw import lfw_command, attack_pairs
    >>> import numpy as np
    >>> lfw_command.name
    'lfw'
    >>> labels = np.array([0, 0, 1, 1, 2])
    >>> pairs = attack_pairs(labels, 3, np.random.default_rng(0))
    >>> pairs.shape, bool(np.all(labels[pairs[:, 0]] != labels[pairs[:, 1]]))
    ((3, 2), True)
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import click
import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from . import dvsp
from .bench import error_rate_sweep, face_distances, genuine_pairs, impostor_pairs, secret_distances
from .binarizers import Center, SecretSelectBinarizer, SignBinarizer
from .errors import InvalidArgument
from .keygen import KeyGen
from .metrics import eer as _eer
from .metrics import fnmr_at_fmr
from .robustness import cosine_scores, cw_feature_attack, eer_threshold

__all__ = [
    "HeadConfig",
    "train_head",
    "head_features",
    "DVSPFaceEncoder",
    "attack_pairs",
    "attack",
    "key_rates",
    "lfw_command",
]

FAR_TARGET = 1e-3


# --------------------------------------------------------------------------- head
@dataclass(frozen=True)
class HeadConfig:
    """Hyper-parameters of the DVSP head on embeddings (defaults: the LFW run's)."""

    hidden: int = 256
    dim: int = 128
    radius: float = 1.0
    beta: float = 1e-2
    n_samples: int = 8
    fgsm_eps: float = 0.1
    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3


def train_head(
    emb: NDArray[np.float32],
    labels: NDArray[np.int64],
    config: HeadConfig = HeadConfig(),
    *,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> tuple[nn.Module, dvsp.DVSPHead]:
    """Train backbone + DVSP head on ``(N, d)`` embeddings with class ``labels`` (any ints).

    Adam, ``config.epochs`` passes in a seeded order, FGSM samples (``fgsm_eps``,
    L2 per embedding) appended to every batch. Returns both in eval mode with
    gradients off. ``progress(epoch)`` after each epoch.
    """
    x = np.asarray(emb)
    if x.ndim != 2 or x.dtype.kind != "f" or not np.all(np.isfinite(x)):
        raise InvalidArgument(
            f"emb must be a finite float (N, d) array, got shape {x.shape}, dtype {x.dtype}"
        )
    lab = np.asarray(labels)
    if lab.shape != (x.shape[0],):
        raise InvalidArgument(f"labels must have shape ({x.shape[0]},), got {lab.shape}")
    classes, y = np.unique(lab, return_inverse=True)
    if len(classes) < 2:
        raise InvalidArgument(f"need at least two classes to train a head, got {len(classes)}")
    torch.manual_seed(seed)
    backbone = dvsp.EmbeddingBackbone(x.shape[1], config.hidden)
    head = dvsp.DVSPHead(
        config.hidden,
        config.dim,
        len(classes),
        radius=config.radius,
        beta=config.beta,
        n_samples=config.n_samples,
    )
    opt = torch.optim.Adam([*backbone.parameters(), *head.parameters()], lr=config.lr)
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    yt = torch.from_numpy(y.astype(np.int64))
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(config.epochs):
        order = torch.randperm(xt.shape[0], generator=gen)
        for start in range(0, xt.shape[0], config.batch_size):
            idx = order[start : start + config.batch_size]
            dvsp.train_step(backbone, head, opt, xt[idx], yt[idx], adversarial=True, eps=config.fgsm_eps)
        if progress is not None:
            progress(epoch + 1)
    for module in (backbone, head):
        module.eval()
        for p in module.parameters():
            p.requires_grad_(False)
    return backbone, head


def head_features(backbone: nn.Module, head: dvsp.DVSPHead, emb: Any) -> NDArray[np.float32]:
    """Unit-norm DVSP features ``mu/|mu|`` of ``(N, d)`` embeddings (the test-time feature over R)."""
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(emb, dtype=np.float32))
        f = head.features(backbone(x)) / head.radius
    return cast(NDArray[np.float32], f.numpy().astype(np.float32))


def _weights_digest(*modules: nn.Module) -> str:
    h = hashlib.sha256()
    for m in modules:
        for name, t in sorted(m.state_dict().items()):
            h.update(name.encode() + b"\0" + t.detach().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


class DVSPFaceEncoder:
    """A :class:`~fuzzykey.encoders.FaceEncoder`: a base encoder's embedding, then a DVSP head.

    ``name`` is ``<base>+dvsp-<first 16 hex of the SHA-256 of the head's weights>``,
    so helpers made with one trained head do not open with another.
    """

    def __init__(self, base: Any, backbone: nn.Module, head: dvsp.DVSPHead) -> None:
        self.base, self.backbone, self.head = base, backbone, head
        self.dim = head.dim
        self.input_size = int(base.input_size)
        self.name = f"{base.name}+dvsp-{_weights_digest(backbone, head)}"

    def embed(self, faces: Any) -> NDArray[np.float32]:
        return head_features(self.backbone, self.head, self.base.embed(faces))

    def __repr__(self) -> str:
        return f"DVSPFaceEncoder(name={self.name!r}, dim={self.dim})"


# --------------------------------------------------------------------------- attacks
def attack_pairs(labels: NDArray[Any], count: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """``count`` index pairs ``(i, j)`` of rows with different labels; each pair of labels once.

    Pairs of labels are drawn without repetition (unordered), then one row of each;
    fewer than ``count`` come back only if fewer pairs of labels exist.
    """
    lab = np.asarray(labels)
    classes = np.unique(lab)
    n_c = len(classes)
    if n_c < 2:
        raise InvalidArgument(f"need rows of at least two labels, got {n_c}")
    members = {c: np.flatnonzero(lab == c) for c in classes.tolist()}
    seen: set[tuple[int, int]] = set()
    out: list[tuple[int, int]] = []
    limit = n_c * (n_c - 1) // 2
    while len(out) < min(count, limit):
        a, b = (int(v) for v in rng.choice(n_c, size=2, replace=False))
        if (min(a, b), max(a, b)) in seen:
            continue
        seen.add((min(a, b), max(a, b)))
        ca, cb = classes[a].item(), classes[b].item()
        out.append((int(rng.choice(members[ca])), int(rng.choice(members[cb]))))
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def attack(
    model: Callable[[Tensor], Tensor],
    crops: Tensor,
    pairs: NDArray[np.int64],
    threshold: float,
    *,
    batch_size: int = 16,
    progress: Callable[[int], None] | None = None,
    **attack_kwargs: Any,
) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Per pair: success and L2 of :func:`~fuzzykey.robustness.cw_feature_attack` from
    ``crops[i]`` towards ``crops[j]`` (``inf`` where it failed)."""
    success = np.zeros(len(pairs), dtype=np.bool_)
    l2 = np.full(len(pairs), np.inf)
    for s in range(0, len(pairs), batch_size):
        p = pairs[s : s + batch_size]
        res = cw_feature_attack(
            model,
            crops[torch.from_numpy(p[:, 0])],
            crops[torch.from_numpy(p[:, 1])],
            threshold,
            **attack_kwargs,
        )
        success[s : s + len(p)], l2[s : s + len(p)] = res.success, res.l2
        if progress is not None:
            progress(len(p))
    return success, l2


# --------------------------------------------------------------------------- keys
def _first(labels: NDArray[np.int64], per_person: int) -> NDArray[np.bool_]:
    keep = np.zeros(len(labels), dtype=bool)
    for person in np.unique(labels):
        idx = np.flatnonzero(labels == person)
        if len(idx) >= 2:
            keep[idx[:per_person]] = True
    return keep


def _point(rows: list[dict[str, float]], t: int) -> dict[str, float]:
    return next(r for r in rows if r["t"] == t)


def _best_point(rows: list[dict[str, float]]) -> dict[str, float] | None:
    ok = [r for r in rows if r["far"] <= FAR_TARGET]
    return min(ok, key=lambda r: (r["frr"], -r["k"])) if ok else None


def key_rates(
    kg: KeyGen,
    emb: NDArray[np.float32],
    labels: NDArray[np.int64],
    *,
    impostors: int,
    keygen_impostors: int,
    seed: int,
) -> dict[str, Any]:
    """Key FRR/FAR of ``kg`` on embeddings of one half (see the module docstring, step 5)."""
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    keep = _first(labels, 6)
    sub = np.flatnonzero(keep)
    gen = sub[genuine_pairs(labels[sub])]
    imp, imp_total = impostor_pairs(labels, impostors, rng)
    for mode in ("secret", "face-only"):
        if mode == "secret":
            psi_s = kg.secret_binarizer
            d_gen = secret_distances(psi_s, emb, gen, rng)
            d_imp = secret_distances(psi_s, emb, imp, rng)
            code = kg.secret_code
        else:
            psi_f = kg.face_binarizer
            d_gen, d_imp = face_distances(psi_f, emb, gen), face_distances(psi_f, emb, imp)
            code = kg.face_code
        rows = error_rate_sweep(code, d_gen, d_imp)
        real = _real_path(kg, mode, emb, labels, keygen_impostors, rng)
        out[mode] = {
            "default": {**_point(rows, code.t), "n_genuine": len(gen), "n_impostor": len(imp)},
            "far_le_0.1%": _best_point(rows),
            "keygen": real,
            "impostor_pairs_available": imp_total,
        }
    return out


def _real_path(
    kg: KeyGen,
    mode: str,
    emb: NDArray[np.float32],
    labels: NDArray[np.int64],
    n_impostors: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Enroll each person's first photo through KeyGen; probe with own and others' photos."""
    accepted_g = tried_g = accepted_i = tried_i = 0
    keep = _first(labels, 6)
    people = np.unique(labels[keep])
    for person in people:
        idx = np.flatnonzero(labels == person)[:6]
        secret = os.urandom(32) if mode == "secret" else None
        enrolled = kg.enroll_embedding(emb[idx[0]], secret=secret)
        others = np.flatnonzero(labels != person)
        imp = rng.choice(others, size=min(n_impostors, len(others)), replace=False)
        keys = kg.reproduce_embeddings(emb[np.r_[idx[1:], imp]], enrolled.helper, secret=secret)
        g, i = keys[: len(idx) - 1], keys[len(idx) - 1 :]
        accepted_g += sum(k == enrolled.key for k in g)
        tried_g += len(g)
        accepted_i += sum(k is not None for k in i)
        tried_i += len(i)
    return {
        "frr": 1.0 - accepted_g / tried_g if tried_g else math.nan,
        "far": accepted_i / tried_i if tried_i else math.nan,
        "n_genuine": tried_g,
        "n_impostor": tried_i,
        "impostors_accepted": accepted_i,
        "enrollments": len(people),
    }


def dvsp_keygen(encoder: DVSPFaceEncoder, train_features: NDArray[np.float32]) -> KeyGen:
    """KeyGen's default binarizers and codes on DVSP features centred on their training mean."""
    mean = np.asarray(train_features, dtype=np.float64).mean(axis=0)
    center = Center(f"{encoder.name}/lfw-dev-half-a", mean)
    return KeyGen(
        encoder=encoder,
        secret_binarizer=SecretSelectBinarizer(1023, 32768, dim=encoder.dim, center=center),
        face_binarizer=SignBinarizer(1023, dim=encoder.dim, center=center),
    )


# --------------------------------------------------------------------------- command
def _crops(files: Sequence[Path], detector: Any) -> Tensor:
    """Aligned crops of ``files`` as ``(N, 3, 112, 112)`` float32 RGB in [0, 1]."""
    arr = np.stack([detector.detect_and_align(f).crop for f in files])
    return torch.from_numpy(arr.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)


def _scores(feats: NDArray[np.float32], labels: NDArray[np.int64]) -> dict[str, float]:
    g, i = cosine_scores(feats, labels)
    return {
        "eer": _eer(g, i),
        "threshold": eer_threshold(g, i),
        "fnmr_at_fmr_0.001": fnmr_at_fmr(g, i, 1e-3),
        "genuine_pairs": len(g),
        "impostor_pairs": len(i),
    }


def _finite_mean(v: NDArray[np.float64]) -> float | None:
    f = v[np.isfinite(v)]
    return float(f.mean()) if f.size else None


def _default_folder() -> Path:
    from .datasets import default_data_dir

    return default_data_dir() / "lfw-dev" / "images"


@click.command("lfw")
@click.option(
    "--images",
    type=click.Path(path_type=Path),
    default=None,
    help="image folder, one subfolder per person [default: <data>/lfw-dev/images]",
)
@click.option("--epochs", default=HeadConfig.epochs, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--radius", default=HeadConfig.radius, show_default=True, type=click.FloatRange(min=0, min_open=True)
)
@click.option("--beta", default=HeadConfig.beta, show_default=True, type=click.FloatRange(min=0))
@click.option("--fgsm-eps", default=HeadConfig.fgsm_eps, show_default=True, type=click.FloatRange(min=0))
@click.option("--attacks", default=48, show_default=True, type=click.IntRange(min=1), help="attacked pairs")
@click.option("--attack-steps", default=40, show_default=True, type=click.IntRange(min=1))
@click.option("--search-steps", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--attack-lr", default=0.004, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option(
    "--initial-lambda", default=2.0, show_default=True, type=click.FloatRange(min=0, min_open=True)
)
@click.option("--impostors", default=200_000, show_default=True, type=click.IntRange(min=1))
@click.option("--keygen-impostors", default=10, show_default=True, type=click.IntRange(min=0))
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--json", "json_out", type=click.Path(path_type=Path), default=None, help="write the results as JSON"
)
@click.option(
    "--quick", is_flag=True, help="tiny run for tests: 2 epochs, 2 attacks of 3 steps, 1 search step"
)
def lfw_command(
    images: Path | None,
    epochs: int,
    radius: float,
    beta: float,
    fgsm_eps: float,
    attacks: int,
    attack_steps: int,
    search_steps: int,
    attack_lr: float,
    initial_lambda: float,
    impostors: int,
    keygen_impostors: int,
    seed: int,
    json_out: Path | None,
    quick: bool,
) -> None:
    """DVSP head on frozen SFace embeddings: EER, image-space robustness index, key FRR/FAR.

    Trains on half A of the people (fuzzykey.datasets.lfw_half), measures on half B.
    """
    from .cli import fail

    if quick:
        epochs, attacks, attack_steps, search_steps = 2, 2, 3, 1
    config = HeadConfig(epochs=epochs, radius=radius, beta=beta, fgsm_eps=fgsm_eps)
    attack_kwargs = {
        "steps": attack_steps,
        "search_steps": search_steps,
        "lr": attack_lr,
        "initial_lambda": initial_lambda,
    }
    try:
        doc = run_lfw(
            images if images is not None else _default_folder(),
            config,
            attacks=attacks,
            attack_kwargs=attack_kwargs,
            impostors=impostors,
            keygen_impostors=keygen_impostors,
            seed=seed,
        )
    except InvalidArgument as e:
        raise fail(str(e)) from None
    except OSError as e:
        where = f" {e.filename!r}" if e.filename else ""
        raise fail(f"cannot access{where}: {e.strerror or e}") from None
    doc["config"]["quick"] = quick
    click.echo(format_lfw_table(doc))
    if json_out is not None:
        json_out.write_text(json.dumps(doc, indent=1) + "\n")


def run_lfw(
    folder_path: Path,
    config: HeadConfig,
    *,
    attacks: int,
    attack_kwargs: dict[str, Any],
    impostors: int,
    keygen_impostors: int,
    seed: int,
) -> dict[str, Any]:
    """The whole experiment (see the module docstring); returns the JSON document."""
    from .datasets import embed_files, lfw_half, read_image_folder
    from .detect import YuNetDetector
    from .encoders import SFaceEncoder

    err = sys.stderr
    t0 = time.perf_counter()
    folder = read_image_folder(folder_path)
    detector, sface = YuNetDetector(), SFaceEncoder()
    with click.progressbar(length=len(folder.files), label="embedding photos", file=err) as bar:
        embedded = embed_files(folder.files, detector, sface, progress=bar.update)
    ok = embedded.ok
    emb_all, lab_all = embedded.embeddings[ok], folder.labels[ok]
    files = [f for f, k in zip(folder.files, ok.tolist(), strict=True) if k]
    in_a = np.array([lfw_half(folder.people[p]) == "a" for p in lab_all], dtype=bool)
    train = in_a & (np.bincount(lab_all)[lab_all] >= 2)  # half-A people with 2+ photos
    a_people, b_people = len(np.unique(lab_all[train])), len(np.unique(lab_all[~in_a]))
    if a_people < 2 or b_people < 2:
        raise InvalidArgument(
            f"{str(folder_path)!r}: need two or more half-A people with 2+ photos and two half-B "
            f"people with a face; found {a_people} and {b_people}"
        )
    t1 = time.perf_counter()
    with click.progressbar(length=config.epochs, label="training the DVSP head", file=err) as bar:
        backbone, head = train_head(
            emb_all[train], lab_all[train], config, seed=seed, progress=lambda e: bar.update(1)
        )
    t2 = time.perf_counter()
    encoder = DVSPFaceEncoder(sface, backbone, head)
    emb_b, lab_b = emb_all[~in_a], lab_all[~in_a]
    files_b = [f for f, a in zip(files, in_a.tolist(), strict=True) if not a]
    feats = {"sface": emb_b, "dvsp": head_features(backbone, head, emb_b)}
    results: dict[str, dict[str, Any]] = {name: _scores(f, lab_b) for name, f in feats.items()}

    rng = np.random.default_rng(seed)
    pairs = attack_pairs(lab_b, attacks, rng)
    used, local = np.unique(pairs, return_inverse=True)  # crop only the photos attacked
    crops = _crops([files_b[i] for i in used.tolist()], detector)
    net = sface.torch_module()
    for p in net.parameters():
        p.requires_grad_(False)
    models: dict[str, Callable[[Tensor], Tensor]] = {
        "sface": lambda x: net(x * 255.0),
        "dvsp": lambda x: head.features(backbone(net(x * 255.0))),
    }
    t3 = time.perf_counter()
    seconds: dict[str, float] = {}
    for name, model in models.items():
        s0 = time.perf_counter()
        with click.progressbar(length=len(pairs), label=f"attacking {name}", file=err) as bar:
            success, l2 = attack(
                model,
                crops,
                local.reshape(pairs.shape),
                results[name]["threshold"],
                progress=bar.update,
                **attack_kwargs,
            )
        seconds[f"attack_{name}"] = round(time.perf_counter() - s0, 3)
        results[name].update(
            ri=_finite_mean(l2),
            attack_failures=int((~success).sum()),
            already_accepted=int((l2 == 0).sum()),
            attempts=len(pairs),
            l2=[float(v) if math.isfinite(v) else None for v in l2],
        )
    l2_s = np.array([np.inf if v is None else v for v in results["sface"]["l2"]])
    l2_d = np.array([np.inf if v is None else v for v in results["dvsp"]["l2"]])
    # pairs both attacks solved, the start not already accepted by SFace (L2 0: no effort needed)
    both = np.isfinite(l2_s) & np.isfinite(l2_d) & (l2_s > 0)
    ratio = l2_d[both] / l2_s[both]
    t4 = time.perf_counter()
    center_a = head_features(backbone, head, emb_all[in_a])
    keygens = {"sface": KeyGen(detector=detector, encoder=sface), "dvsp": dvsp_keygen(encoder, center_a)}
    for name, kg in keygens.items():
        click.echo(f"key error rates with {name} features ...", err=True)
        results[name]["keys"] = key_rates(
            kg,
            feats[name],
            lab_b,
            impostors=impostors,
            keygen_impostors=keygen_impostors,
            seed=seed,
        )
        results[name]["encoder"] = kg.encoder_name
    t5 = time.perf_counter()
    seconds.update(
        embedding=round(t1 - t0, 3),
        training=round(t2 - t1, 3),
        attacks=round(t4 - t3, 3),
        keys=round(t5 - t4, 3),
        total=round(t5 - t0, 3),
    )
    return {
        "features": results,
        "paired": {
            "both_succeeded": int(both.sum()),
            "median_ratio_dvsp_over_sface": float(np.median(ratio)) if ratio.size else None,
            "ri_ratio_dvsp_over_sface": (
                results["dvsp"]["ri"] / results["sface"]["ri"]
                if results["dvsp"]["ri"] and results["sface"]["ri"]
                else None
            ),
            "dvsp_harder": int((ratio > 1).sum()),
        },
        "data": {
            "images": str(folder_path),
            "photos": len(folder.files),
            "without_face": len(embedded.failures),
            "train": f"half A: {int(train.sum())} photos of {a_people} people with 2+ photos",
            "test": f"half B: {len(lab_b)} photos of {b_people} people",
        },
        "config": {
            "head": {**config.__dict__},
            "attack": {**attack_kwargs, "box": [0.0, 1.0], "pixels": "RGB / 255", "pairs": len(pairs)},
            "impostors": impostors,
            "keygen_impostors": keygen_impostors,
            "seed": seed,
            "threads": torch.get_num_threads(),
        },
        "seconds": seconds,
    }


def format_lfw_table(doc: dict[str, Any]) -> str:
    """The text table: per feature EER, RI, failures, and key FRR/FAR (secret and face-only)."""
    lines = [
        f"{'features':<8} {'EER %':>6} {'RI':>7} {'failed':>8}  "
        f"{'secret FRR %':>12} {'FAR %':>8} {'face FRR %':>10} {'FAR %':>8}  (KeyGen defaults, real path)"
    ]
    for name, r in doc["features"].items():
        ri = "n/a" if r.get("ri") is None else f"{r['ri']:.3f}"
        keys = r.get("keys", {})
        s, f = keys.get("secret", {}).get("keygen", {}), keys.get("face-only", {}).get("keygen", {})
        lines.append(
            f"{name:<8} {100 * r['eer']:>6.3f} {ri:>7} "
            f"{r.get('attack_failures', 0):>3}/{r.get('attempts', 0):<4}  "
            f"{100 * s.get('frr', math.nan):>12.2f} {100 * s.get('far', math.nan):>8.4f} "
            f"{100 * f.get('frr', math.nan):>10.2f} {100 * f.get('far', math.nan):>8.4f}"
        )
    paired = doc.get("paired", {})
    if paired.get("median_ratio_dvsp_over_sface") is not None:
        lines.append(
            f"paired: DVSP needed {paired['median_ratio_dvsp_over_sface']:.3f}x SFace's L2 (median over "
            f"{paired['both_succeeded']} pairs where both attacks succeeded; "
            f"larger in {paired['dvsp_harder']})"
        )
    return "\n".join(lines)
