r"""The ``fuzzykey robustness lfw`` experiment: a DVSP head on frozen SFace embeddings, attacked by pixels.

The face part of Xie et al.'s comparison ("A Deep, Information-theoretic Framework
for Robust Biometric Recognition", Table 2), on fuzzykey's own pipeline: YuNet
crops, SFace embeddings, and a DVSP head trained on top of them. This module
needs torch and is not imported by ``import fuzzykey``.

Data. An image folder with one subfolder per person (default ``<data>/lfw-dev/images``).
People are split by :func:`fuzzykey.evaluation.datasets.lfw_half`: the head is trained on the
half-A people with two or more photos; every figure is measured on half B,
people the head (and the binarizers' mean vector) never saw.

Steps of :func:`run_lfw`:

1. detect, align and embed every photo once with SFace on onnxruntime (the
   embedding cache of :mod:`fuzzykey.evaluation.datasets`: a second run starts at once);
2. train :class:`~fuzzykey.robust.dvsp.EmbeddingBackbone` + :class:`~fuzzykey.robust.dvsp.DVSPHead`
   on the frozen half-A embeddings (one class per person), with FGSM samples of
   L2 size ``--fgsm-eps`` taken in the embedding space the head reads
   (:func:`fuzzykey.robust.dvsp.train_step`); SFace itself is not trained
   (:func:`train_head`);
3. **EER**: cosine similarity of all pairs of half-B photos, with plain SFace
   embeddings and with DVSP features :math:`R\,\mu/\|\mu\|`; the attack
   threshold :math:`T` of each is its EER threshold;
4. **robustness index**: ``--attacks`` pairs ``(x1, x2)`` of photos of two
   different half-B people (:func:`attack_pairs`), the same pairs for both
   features. For each, the feature-space Carlini–Wagner attack
   (:func:`fuzzykey.robust.robustness.cw_feature_attack`) looks for the
   smallest L2 change of ``x1``'s aligned 112x112 RGB crop, pixels scaled to
   ``[0, 1]``, that brings :math:`\cos(f(\tilde x_1), f(x_2))` to :math:`T`;
   gradients go through the differentiable PyTorch copy of SFace
   (:meth:`fuzzykey.face.encoders.SFaceEncoder.torch_module`), and through the head
   for DVSP. RI is the mean L2 of the successful attacks; failures are counted
   and reported. Pairs are too few per pair of people for the paper's per-class
   matrix, so RI here is the mean over sampled pairs of people (each pair of
   people once at most), and ``median_ratio`` compares the two features on the
   pairs where both attacks succeeded (the start not already accepted);
5. **keys** (:func:`key_rates`): ``KeyGen`` with SFace embeddings (its defaults)
   and with DVSP features (:func:`dvsp_keygen`: the same binarizers and codes,
   centred on the mean DVSP feature of half A). Through KeyGen itself
   (:mod:`fuzzykey.evaluation.realpath`: binarizer, BCH decoding, tag, HKDF):
   each half-B person with 2+ photos enrolls on their first photo and is probed
   with up to five of their other photos (genuine) and ``--keygen-impostors``
   photos of other half-B people (impostors; in the secret mode with the
   enrollee's stolen secret). From Hamming distances computed as KeyGen's
   binarizers do (:mod:`fuzzykey.evaluation.distances`), all same-person pairs
   among each person's first six photos and ``--impostors`` random
   cross-person pairs give FRR and FAR for every t
   (:mod:`fuzzykey.evaluation.operating_points`): reported at KeyGen's default
   t and at the lowest FRR with FAR at most 0.1 %.

Defaults. The head (:class:`HeadConfig`): one 256-unit layer, 128-D features,
30 epochs of Adam (lr 1e-3, batches of 128); R = 1 and beta = 1e-2 are the
values chosen for DVSP on MNIST validation digits
(:mod:`fuzzykey.evaluation.robustness_mnist`), with no separate search on faces;
the FGSM step is the paper's 0.1, here in the unit-norm embedding space. The
attack (``fuzzykey robustness lfw``): 48 pairs, 40 Adam steps of lr 0.004 for
each of the 3 lambdas of a binary search starting at 2.0. Keys: 200,000 distance impostor pairs, 10 KeyGen
impostors per enrollment. The published run, its time and machine are in
``benchmarks/results/robustness_lfw.md`` (figures:
``benchmarks/results/robustness_lfw.json``).

Example:
    >>> from fuzzykey.evaluation.robustness_lfw import attack_pairs
    >>> import numpy as np
    >>> labels = np.array([0, 0, 1, 1, 2])
    >>> pairs = attack_pairs(labels, 3, np.random.default_rng(0))
    >>> pairs.shape, bool(np.all(labels[pairs[:, 0]] != labels[pairs[:, 1]]))
    ((3, 2), True)
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from ..binarizers import Center, SecretSelectBinarizer, SignBinarizer
from ..errors import InvalidArgument
from ..header import MODES, Mode
from ..keygen import KeyGen
from ..robust import dvsp
from ..robust.robustness import cw_feature_attack
from .datasets import ImageFolder, embed_files, lfw_half, read_image_folder
from .distances import key_distances
from .metrics import cosine_scores, eer_threshold, fnmr_at_fmr
from .metrics import eer as _eer
from .operating_points import best_point, error_rate_sweep, point_at
from .pairs import first_photos, genuine_pairs, impostor_pairs, impostor_probes
from .progress import Log, Progress, quiet, silent
from .realpath import Trial, count_keys

__all__ = [
    "HeadConfig",
    "train_head",
    "head_features",
    "DVSPFaceEncoder",
    "attack_pairs",
    "attack",
    "key_rates",
    "dvsp_keygen",
    "run_lfw",
    "format_lfw_table",
    "PHOTOS_PER_PERSON",
]

PHOTOS_PER_PERSON = 6
"""Key rates use each half-B person's first six photos: one enrolls, up to five probe."""


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
    """A :class:`~fuzzykey.face.encoders.FaceEncoder`: a base encoder's embedding, then a DVSP head.

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
    """Per pair: success and L2 of :func:`~fuzzykey.robust.robustness.cw_feature_attack` from
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
def key_rates(
    kg: KeyGen,
    emb: NDArray[np.float32],
    labels: NDArray[np.int64],
    *,
    impostors: int,
    keygen_impostors: int,
    seed: int,
) -> dict[str, Any]:
    """Key FRR/FAR of ``kg`` on embeddings of one half (see the module docstring, step 5).

    Per mode: ``default`` and ``far_le_0.1%``, the operating points at KeyGen's t and
    the best one (:func:`~fuzzykey.evaluation.operating_points.best_point`) from Hamming
    distances; ``keygen``, the counts through KeyGen itself.
    """
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    sub = np.flatnonzero(first_photos(labels, PHOTOS_PER_PERSON))
    gen = sub[genuine_pairs(labels[sub])]
    imp, imp_total = impostor_pairs(labels, impostors, rng)
    for mode in MODES:
        d_gen = key_distances(kg, mode, emb, gen, rng)
        d_imp = key_distances(kg, mode, emb, imp, rng)
        code = kg.code(mode)
        rows = error_rate_sweep(code, d_gen, d_imp)
        out[mode] = {
            "default": {**point_at(rows, code.t), "n_genuine": len(gen), "n_impostor": len(imp)},
            "far_le_0.1%": best_point(rows),
            "keygen": _keygen_rates(kg, mode, emb, labels, keygen_impostors, rng),
            "impostor_pairs_available": imp_total,
        }
    return out


def _keygen_rates(
    kg: KeyGen,
    mode: Mode,
    emb: NDArray[np.float32],
    labels: NDArray[np.int64],
    n_impostors: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Each person's first photo enrolled through KeyGen; probed with their next ones and others'."""
    keep = first_photos(labels, PHOTOS_PER_PERSON)
    firsts = [np.flatnonzero(labels == person)[:PHOTOS_PER_PERSON] for person in np.unique(labels[keep])]
    others = impostor_probes(labels, [rows[0] for rows in firsts], n_impostors, rng)
    trials = [
        Trial(rows[0], genuine=rows[1:], impostors=imp) for rows, imp in zip(firsts, others, strict=True)
    ]
    counts = count_keys(kg, mode, emb, trials)
    return {
        "frr": counts.frr,
        "far": counts.far,
        "n_genuine": counts.genuine,
        "n_impostor": counts.impostor,
        "impostors_accepted": counts.impostor_keys,
        "enrollments": counts.enrollments,
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


@dataclass(frozen=True)
class _Halves:
    """The folder's photos with a face, embedded, and who trains (half A) and who tests (half B)."""

    photos: int
    without_face: int
    emb: NDArray[np.float32]
    labels: NDArray[np.int64]
    files: list[Path]
    in_a: NDArray[np.bool_]
    train: NDArray[np.bool_]
    """Half-A photos of people with 2+ photos."""

    @property
    def test(self) -> NDArray[np.bool_]:
        return ~self.in_a


def run_lfw(
    folder_path: Path,
    config: HeadConfig,
    *,
    attacks: int,
    attack_kwargs: dict[str, Any],
    impostors: int,
    keygen_impostors: int,
    seed: int,
    progress: Progress = silent,
    log: Log = quiet,
) -> dict[str, Any]:
    """The whole experiment (see the module docstring); returns the JSON document.

    ``progress`` and ``log`` report what it does (silent by default; see
    :mod:`fuzzykey.evaluation.progress`); :func:`format_lfw_table` prints the result.
    """
    from ..face.detect import YuNetDetector
    from ..face.encoders import SFaceEncoder

    t0 = time.perf_counter()
    folder = read_image_folder(folder_path)
    detector, sface = YuNetDetector(), SFaceEncoder()
    halves = _embed_halves(folder, detector, sface, progress)
    t1 = time.perf_counter()
    with progress("training the DVSP head", config.epochs) as advance:
        backbone, head = train_head(
            halves.emb[halves.train],
            halves.labels[halves.train],
            config,
            seed=seed,
            progress=lambda e: advance(1),
        )
    t2 = time.perf_counter()
    emb_b, lab_b = halves.emb[halves.test], halves.labels[halves.test]
    feats = {"sface": emb_b, "dvsp": head_features(backbone, head, emb_b)}
    results: dict[str, dict[str, Any]] = {name: _scores(f, lab_b) for name, f in feats.items()}
    net = sface.torch_module()
    for p in net.parameters():
        p.requires_grad_(False)
    models: dict[str, Callable[[Tensor], Tensor]] = {
        "sface": lambda x: net(x * 255.0),
        "dvsp": lambda x: head.features(backbone(net(x * 255.0))),
    }
    rng = np.random.default_rng(seed)
    pairs = attack_pairs(lab_b, attacks, rng)
    files_b = [f for f, test in zip(halves.files, halves.test.tolist(), strict=True) if test]
    used, local = np.unique(pairs, return_inverse=True)  # crop only the photos attacked
    crops = _crops([files_b[i] for i in used.tolist()], detector)
    t3 = time.perf_counter()
    seconds = _attack_features(models, results, crops, local.reshape(pairs.shape), attack_kwargs, progress)
    t4 = time.perf_counter()
    encoder = DVSPFaceEncoder(sface, backbone, head)
    center_a = head_features(backbone, head, halves.emb[halves.in_a])
    keygens = {"sface": KeyGen(detector=detector, encoder=sface), "dvsp": dvsp_keygen(encoder, center_a)}
    for name, kg in keygens.items():
        log(f"key error rates with {name} features ...")
        results[name]["keys"] = key_rates(
            kg, feats[name], lab_b, impostors=impostors, keygen_impostors=keygen_impostors, seed=seed
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
    a_people = len(np.unique(halves.labels[halves.train]))
    return {
        "features": results,
        "paired": _paired(results),
        "data": {
            "images": str(folder_path),
            "photos": halves.photos,
            "without_face": halves.without_face,
            "train": f"half A: {int(halves.train.sum())} photos of {a_people} people with 2+ photos",
            "test": f"half B: {len(lab_b)} photos of {len(np.unique(lab_b))} people",
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


def _embed_halves(folder: ImageFolder, detector: Any, sface: Any, progress: Progress) -> _Halves:
    """Embed the folder's photos and split its people by :func:`~fuzzykey.evaluation.datasets.lfw_half`."""
    with progress("embedding photos", len(folder.files)) as advance:
        embedded = embed_files(folder.files, detector, sface, progress=advance)
    ok = embedded.ok
    labels = folder.labels[ok]
    in_a = np.array([lfw_half(folder.people[p]) == "a" for p in labels], dtype=bool)
    train = in_a & (np.bincount(labels)[labels] >= 2)
    a_people, b_people = len(np.unique(labels[train])), len(np.unique(labels[~in_a]))
    if a_people < 2 or b_people < 2:
        raise InvalidArgument(
            f"{str(folder.root)!r}: need two or more half-A people with 2+ photos and two half-B "
            f"people with a face; found {a_people} and {b_people}"
        )
    return _Halves(
        photos=len(folder.files),
        without_face=len(embedded.failures),
        emb=embedded.embeddings[ok],
        labels=labels,
        files=[f for f, k in zip(folder.files, ok.tolist(), strict=True) if k],
        in_a=in_a,
        train=train,
    )


def _attack_features(
    models: dict[str, Callable[[Tensor], Tensor]],
    results: dict[str, dict[str, Any]],
    crops: Tensor,
    pairs: NDArray[np.int64],
    attack_kwargs: dict[str, Any],
    progress: Progress,
) -> dict[str, float]:
    """Attack each feature's model on the same pairs of ``crops``; adds the figures to ``results``.

    Returns the seconds each feature's attacks took.
    """
    seconds: dict[str, float] = {}
    for name, model in models.items():
        s0 = time.perf_counter()
        with progress(f"attacking {name}", len(pairs)) as advance:
            success, l2 = attack(
                model,
                crops,
                pairs,
                results[name]["threshold"],
                progress=advance,
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
    return seconds


def _paired(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """DVSP's attack effort over SFace's, pair by pair."""
    l2_s = np.array([np.inf if v is None else v for v in results["sface"]["l2"]])
    l2_d = np.array([np.inf if v is None else v for v in results["dvsp"]["l2"]])
    # pairs both attacks solved, the start not already accepted by SFace (L2 0: no effort needed)
    both = np.isfinite(l2_s) & np.isfinite(l2_d) & (l2_s > 0)
    ratio = l2_d[both] / l2_s[both]
    ri_s, ri_d = results["sface"]["ri"], results["dvsp"]["ri"]
    return {
        "both_succeeded": int(both.sum()),
        "median_ratio_dvsp_over_sface": float(np.median(ratio)) if ratio.size else None,
        "ri_ratio_dvsp_over_sface": ri_d / ri_s if ri_d and ri_s else None,
        "dvsp_harder": int((ratio > 1).sum()),
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
