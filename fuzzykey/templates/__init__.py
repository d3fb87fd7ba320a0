"""Cancelable face templates: distorted face crops that the face encoder still
matches (needs ``fuzzykey[torch]``). How much of the face people can still see,
whether the crop can be recovered from its template and whether two databases'
templates link are measured, not promised (:mod:`fuzzykey.evaluation.templates_eval`;
for the shipped generator the README's figures: matchable, changed far beyond SSIM
0.5, but invertible by a trained network and linkable).

The subpackage's one job is the generator behind "unrecognizable yet identifiable"
templates (Zakharov, Kuznetsov and Frontoni, arXiv 2401.15048 and 2402.02540): a
small U-Net G turns an aligned 112x112 crop X into G(X) whose embedding under a
frozen encoder (the torch copy of SFace) stays within a cosine margin of X's, while
the image itself is changed as much as possible.

Layer rule: imports only the crypto core's errors and torch; the encoder is passed
in as a ``torch.nn.Module`` (for SFace:
:meth:`SFaceEncoder.torch_module <fuzzykey.face.encoders.SFaceEncoder.torch_module>`)
and the aligned crops as uint8 arrays (for photos:
:meth:`YuNetDetector.detect_and_align <fuzzykey.face.detect.YuNetDetector.detect_and_align>`),
so nothing here imports the face pipeline, the key pipeline or the evaluation code.

- :mod:`~fuzzykey.templates.unet`: the :class:`UNetGenerator`, :func:`protect_faces`
  and the weight file format (:func:`save_generator`, :func:`load_generator`).
- :mod:`~fuzzykey.templates.losses`: Sobel edges, the edge-weighted distortion reward,
  a differentiable SSIM, the cosine-margin hinge and their weighted sum :class:`TemplateLoss`.
- :mod:`~fuzzykey.templates.train`: :func:`train_generator` with its validated
  :class:`TrainConfig` and per-epoch :class:`EpochStats`.
"""

from __future__ import annotations

from .losses import (
    SSIM_WINDOW,
    LossTerms,
    TemplateLoss,
    cosine_rows,
    distortion_reward,
    embedding_margin_loss,
    sobel_edges,
    ssim_rows,
)
from .train import EpochStats, TrainConfig, TrainResult, train_generator
from .unet import (
    UNetGenerator,
    check_crops,
    count_parameters,
    crops_to_tensor,
    load_generator,
    protect_faces,
    save_generator,
)

__all__ = [
    "UNetGenerator",
    "count_parameters",
    "protect_faces",
    "check_crops",
    "crops_to_tensor",
    "save_generator",
    "load_generator",
    "sobel_edges",
    "cosine_rows",
    "distortion_reward",
    "embedding_margin_loss",
    "ssim_rows",
    "SSIM_WINDOW",
    "TemplateLoss",
    "LossTerms",
    "TrainConfig",
    "EpochStats",
    "TrainResult",
    "train_generator",
]
