"""fuzzykey: stable cryptographic keys from face photos.

The pipeline is image -> detection/alignment -> encoder -> binarizer -> fuzzy
extractor -> key, and :class:`KeyGen` runs all of it. The package is built in
layers; each imports only from the layers before it (``tests/test_layout.py``
checks this, imports inside functions included):

1. **Crypto core** -- no faces, no torch, no click: :mod:`fuzzykey.bch` (BCH
   codes on the C++ core), :mod:`fuzzykey.linear` (small linear codes with exact
   maximum-likelihood soft decoding), :mod:`fuzzykey.extractor` (code-offset
   fuzzy extractor, HKDF/HMAC-SHA3), :mod:`fuzzykey.kdf` (Argon2id key
   stretching), :mod:`fuzzykey.helper` (the versioned helper format),
   :mod:`fuzzykey.ops` (bit kernels, CPU and CUDA), :mod:`fuzzykey.errors`.
2. **Face pipeline** :mod:`fuzzykey.face` (photos to embeddings: YuNet, SFace)
   and **robust embeddings** :mod:`fuzzykey.robust` (DVSP heads, the CW attack;
   torch), side by side.
3. **Key pipeline** -- :mod:`fuzzykey.binarizers`, :mod:`fuzzykey.header` (the
   KeyGen header in helper data), :mod:`fuzzykey.passwords` (scrypt and the
   password record), :mod:`fuzzykey.security` (what a key is worth),
   :mod:`fuzzykey.keygen` (:class:`KeyGen`).
4. **This module**: the public API below.
5. **Evaluation** :mod:`fuzzykey.evaluation`: metrics, our own attacks on helper
   data, unlinkability, data sets, and the experiment runners.
6. **Command line** :mod:`fuzzykey.cli` (the ``fuzzykey`` command; the only
   importer of click, and the one place where errors become exit codes).

Example:
    >>> import numpy as np
    >>> from fuzzykey import BCHCode, FuzzyExtractor
    >>> fe = FuzzyExtractor(BCHCode.for_error_rate(1023, 0.08))
    >>> w = np.random.default_rng(7).integers(0, 2, fe.code.n, dtype=np.uint8)
    >>> key, helper = fe.generate(w)
    >>> w[:40] ^= 1                       # 40 bits flipped, within t
    >>> fe.reproduce(w, helper.to_bytes()) == key
    True
"""

from __future__ import annotations

from .bch import BCHCode
from .errors import (
    CudaUnavailable,
    DecodingFailure,
    FuzzyKeyError,
    InvalidArgument,
    InvalidHelperData,
    InvalidImage,
    KeyMismatch,
    ModelError,
    NoFaceFound,
    PipelineMismatch,
)
from .extractor import FuzzyExtractor
from .facekeys import ZeroLeakageKeys
from .helper import HelperData
from .kdf import Argon2id, KdfLimits
from .keygen import Enrollment, KeyGen
from .linear import LinearCode
from .passwords import password_secret
from .security import SecurityEstimate

__all__ = [
    "KeyGen",
    "Enrollment",
    "ZeroLeakageKeys",
    "SecurityEstimate",
    "password_secret",
    "BCHCode",
    "LinearCode",
    "FuzzyExtractor",
    "Argon2id",
    "KdfLimits",
    "HelperData",
    "FuzzyKeyError",
    "InvalidArgument",
    "DecodingFailure",
    "KeyMismatch",
    "InvalidHelperData",
    "CudaUnavailable",
    "InvalidImage",
    "NoFaceFound",
    "ModelError",
    "PipelineMismatch",
]
__version__ = "0.1.0"
