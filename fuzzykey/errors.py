"""The exceptions fuzzykey raises: one flat family under :class:`FuzzyKeyError`.

Messages name the argument and quote the offending value or shape, never key
material, secrets or biometric bits.
"""

from __future__ import annotations

__all__ = [
    "FuzzyKeyError",
    "InvalidArgument",
    "DecodingFailure",
    "KeyMismatch",
    "InvalidHelperData",
    "CudaUnavailable",
    "ModelError",
    "InvalidImage",
    "NoFaceFound",
    "PipelineMismatch",
]


class FuzzyKeyError(Exception):
    """Base class of every error raised by fuzzykey."""


class InvalidArgument(FuzzyKeyError, ValueError):
    """An argument has the wrong shape, dtype, value or range (also a ``ValueError``)."""


class DecodingFailure(FuzzyKeyError):
    """The word has more errors than the code corrects, and the decoder noticed.

    A bounded-distance BCH decoder notices most, not all, such words: with more
    than t errors it can also land on another codeword. The fuzzy extractor's tag
    catches those, so :class:`FuzzyExtractor` never returns a wrong key.
    """


class KeyMismatch(FuzzyKeyError):
    """``reproduce`` could not recover the enrolled key.

    The bits are too far from the enrolled ones, or the helper data (or the
    ``info`` label) is not the one the key was made with. The two cases are not
    told apart on purpose.
    """


class InvalidHelperData(FuzzyKeyError):
    """Serialized helper data is malformed, truncated, extended, of an unknown
    version, internally inconsistent, or made for other code parameters."""


class CudaUnavailable(FuzzyKeyError, RuntimeError):
    """A CUDA tensor reached a build of fuzzykey that has no CUDA kernels."""


class ModelError(FuzzyKeyError):
    """A model file is missing, altered (wrong SHA-256) or cannot be loaded."""


class InvalidImage(FuzzyKeyError, ValueError):
    """An image argument cannot be read: not a file, not a decodable image, or an
    array of the wrong shape or dtype (also a ``ValueError``)."""


class NoFaceFound(FuzzyKeyError):
    """The face detector found no face in the image."""


class PipelineMismatch(FuzzyKeyError):
    """Helper data was made by another pipeline (encoder, binarizer, code or
    mode) than the one asked to reproduce from it, or a secret is missing or
    superfluous. Reproducing would certainly fail, so this says why instead."""
