"""fuzzykey.evaluation.throughput: stage timings of KeyGen on real photos."""

from __future__ import annotations

import pytest

from fuzzykey import KeyGen
from fuzzykey.errors import InvalidArgument
from fuzzykey.evaluation.throughput import Throughput, measure_throughput


@pytest.mark.parametrize("mode", ["secret", "face-only"])
def test_every_stage_is_timed_and_every_key_comes_back(lfw_images, mode):
    files = sorted((lfw_images / "Colin_Powell").glob("*.jpg"))[:3]
    tp = measure_throughput(KeyGen(), files, mode)
    assert tp.photos == 3
    for stage in ("detection", "embedding", "binarization_enroll", "binarization_reproduce"):
        assert getattr(tp, stage) > 0
    enroll, reproduce = tp.enroll_seconds(), tp.reproduce_seconds()
    assert list(enroll) == list(reproduce) == ["detection", "embedding", "binarization", "extraction"]
    assert enroll["detection"] == reproduce["detection"] == tp.detection / 3


def test_rates_are_photos_over_seconds():
    tp = Throughput(4, 2.0, 1.0, 0.5, 0.25, 0.125, 0.0625)
    assert tp.per_second(tp.detection) == 2.0 and tp.per_second(tp.extraction_reproduce) == 64.0
    assert tp.reproduce_seconds()["binarization"] == 0.0625


def test_no_photo_is_refused():
    with pytest.raises(InvalidArgument, match="at least one photo"):
        measure_throughput(KeyGen(), [])
