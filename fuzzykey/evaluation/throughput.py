"""Photos per second through each stage of KeyGen: detection, embedding, binarization, extraction.

:func:`measure_throughput` times a KeyGen's stages on a list of photos, one
stage over all photos at a time, in one process:

* detection: decoding, face detection and alignment (``kg.detector``);
* embedding: the encoder on all crops in one call (``kg.encoder``), after a
  warm-up call on two crops, so session start-up is not counted per photo;
* binarization, for enrollment (the binarizer's ``enroll_bits``: in the secret
  mode a fresh nonce, the rotation, the selection) and for reproduction
  (``probe_bits`` on the enrolled fields);
* extraction, for enrollment (``FuzzyExtractor.generate``: code offset, tag,
  key derivation) and for reproduction (``reproduce``: BCH decoding, tag
  check, key derivation), with :meth:`KeyGen.extractor <fuzzykey.KeyGen.extractor>`.

Each photo is reproduced from its own enrollment photo, so every key must come
back; one that does not raises. The timings are wall-clock: they depend on the
machine and its load, and a benchmark reports them beside the machine it ran on.

Example:
    >>> from fuzzykey.evaluation.throughput import Throughput
    >>> tp = Throughput(photos=10, detection=0.5, embedding=0.25, binarization_enroll=0.1,
    ...                 binarization_reproduce=0.05, extraction_enroll=0.1, extraction_reproduce=0.2)
    >>> tp.per_second(tp.detection)
    20.0
    >>> tp.enroll_seconds()  # per photo
    {'detection': 0.05, 'embedding': 0.025, 'binarization': 0.01, 'extraction': 0.01}
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FuzzyKeyError, InvalidArgument
from ..header import Mode
from ..keygen import KeyGen
from .realpath import SECRET_BYTES

__all__ = ["Throughput", "measure_throughput"]


@dataclass(frozen=True)
class Throughput:
    """Seconds each stage took for ``photos`` photos."""

    photos: int
    detection: float
    embedding: float
    binarization_enroll: float
    binarization_reproduce: float
    extraction_enroll: float
    extraction_reproduce: float

    def per_second(self, seconds: float) -> float:
        """Photos per second of a stage that took ``seconds`` for all photos."""
        return self.photos / seconds

    def enroll_seconds(self) -> dict[str, float]:
        """Seconds per photo of each stage of an enrollment."""
        return self._per_photo(self.binarization_enroll, self.extraction_enroll)

    def reproduce_seconds(self) -> dict[str, float]:
        """Seconds per photo of each stage of a reproduction."""
        return self._per_photo(self.binarization_reproduce, self.extraction_reproduce)

    def _per_photo(self, binarization: float, extraction: float) -> dict[str, float]:
        stages = (self.detection, self.embedding, binarization, extraction)
        names = ("detection", "embedding", "binarization", "extraction")
        return {name: sec / self.photos for name, sec in zip(names, stages, strict=True)}


def measure_throughput(kg: KeyGen, files: Sequence[Path], mode: Mode = "secret") -> Throughput:
    """Time each stage of ``kg`` in ``mode`` on ``files`` (photos with a face; see the module docstring).

    Raises:
        FuzzyKeyError: a photo's key did not come back from its own bits.
    """
    photos = list(files)
    if not photos:
        raise InvalidArgument("throughput needs at least one photo, got none")
    t0 = time.perf_counter()
    crops = np.stack([kg.detector.detect_and_align(f).crop for f in photos])
    t_det = time.perf_counter() - t0
    kg.encoder.embed(crops[:2])
    t0 = time.perf_counter()
    emb = kg.encoder.embed(crops)
    t_emb = time.perf_counter() - t0
    psi, fe = kg.binarizer(mode), kg.extractor(mode)
    secret = os.urandom(SECRET_BYTES) if mode == "secret" else None
    t0 = time.perf_counter()
    enrolled = [psi.enroll_bits(row[None], secret) for row in emb]
    t_bin_enroll = time.perf_counter() - t0
    t0 = time.perf_counter()
    made = [fe.generate(bits, secret=secret) for bits, _ in enrolled]
    t_ext_enroll = time.perf_counter() - t0
    t0 = time.perf_counter()
    probes = [
        psi.probe_bits(row[None], fields, secret)[0][0]
        for row, (_, fields) in zip(emb, enrolled, strict=True)
    ]
    t_bin_reproduce = time.perf_counter() - t0
    t0 = time.perf_counter()
    for n, (bits, (key, helper)) in enumerate(zip(probes, made, strict=True)):
        if fe.reproduce(bits, helper, secret=secret) != key:
            raise FuzzyKeyError(
                f"throughput run: the key of {str(photos[n])!r} did not come back from its own bits"
            )
    t_ext_reproduce = time.perf_counter() - t0
    return Throughput(len(photos), t_det, t_emb, t_bin_enroll, t_bin_reproduce, t_ext_enroll, t_ext_reproduce)
