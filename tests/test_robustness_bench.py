"""``fuzzykey robustness mnist``: IDX loading, validation and a --quick end-to-end run."""

from __future__ import annotations

import gzip
import json
import struct

import numpy as np
import pytest

pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402
from conftest import shared_data_dir  # noqa: E402

from fuzzykey.cli import main  # noqa: E402
from fuzzykey.errors import InvalidArgument  # noqa: E402
from fuzzykey.evaluation.robustness_mnist import (  # noqa: E402
    METHODS,
    load_idx,
    load_mnist,
    parse_idx,
)

MNIST = shared_data_dir() / "mnist"


def _idx(shape: tuple[int, ...], payload: bytes) -> bytes:
    return struct.pack(">HBB", 0, 8, len(shape)) + struct.pack(f">{len(shape)}I", *shape) + payload


def test_load_idx_real_files():
    images = load_idx(MNIST / "t10k-images-idx3-ubyte.gz")
    labels = load_idx(MNIST / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and set(np.unique(labels).tolist()) == set(range(10))
    assert images.max() == 255 and images.min() == 0
    x, y = load_mnist(MNIST)
    assert x.shape == (10000, 28, 28) and y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)


def test_load_idx_plain_and_gzip(tmp_path):
    data = _idx((2, 3), bytes(range(6)))
    (tmp_path / "a.idx").write_bytes(data)
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(data))
    for name in ("a.idx", "a.idx.gz"):
        np.testing.assert_array_equal(load_idx(tmp_path / name), np.arange(6, dtype=np.uint8).reshape(2, 3))


@pytest.mark.parametrize(
    "data, match",
    [
        (b"\x00\x00\x08", "too short"),
        (struct.pack(">HBB", 0, 0x0D, 1) + struct.pack(">I", 1) + b"\0\0\0\0", "magic"),  # float data
        (struct.pack(">HBB", 1, 8, 1) + struct.pack(">I", 1) + b"\0", "magic"),
        (struct.pack(">HBB", 0, 8, 3) + b"\0\0\0\1", "truncated"),
        (_idx((10, 28, 28), bytes(100)), "need 7840 bytes"),  # truncated data
        (_idx((2,), bytes(5)), "need 2 bytes"),  # trailing garbage
    ],
)
def test_malformed_idx(tmp_path, data, match):
    with pytest.raises(InvalidArgument, match=match):
        parse_idx(data)
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(data))
    with pytest.raises(InvalidArgument, match=match):
        load_idx(path)


def test_corrupt_gzip_and_missing(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(b"\x1f\x8b" + b"junk")
    with pytest.raises(InvalidArgument, match="gzip"):
        load_idx(path)
    with pytest.raises(InvalidArgument, match="not found"):
        load_idx(tmp_path / "nope")
    with pytest.raises(InvalidArgument, match="not found"):
        load_mnist(tmp_path / "nope")
    with pytest.raises(InvalidArgument, match="t10k-images"):
        load_mnist(tmp_path)


def test_mnist_wrong_shapes(tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(_idx((3, 28, 28), bytes(3 * 784)))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx((2,), bytes(2)))
    with pytest.raises(InvalidArgument, match="labels"):
        load_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx((3,), bytes([1, 2, 12])))
    with pytest.raises(InvalidArgument, match="0..9"):
        load_mnist(tmp_path)


def test_quick_run(tmp_path):
    out, png = tmp_path / "r.json", tmp_path / "h.png"
    res = CliRunner().invoke(
        main,
        ["robustness", "mnist", "--data", str(MNIST), "--quick", "--json", str(out), "--plot", str(png)],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert set(doc["methods"]) == set(METHODS)
    for r in doc["methods"].values():
        assert {"eer", "ri", "attack_failures", "attempts", "H"} <= set(r)
        assert 0.0 <= r["eer"] <= 1.0
        assert r["attempts"] == 90 and 0 <= r["attack_failures"] <= 90
        assert len(r["H"]) == 10 and all(row[i] is None for i, row in enumerate(r["H"]))
    assert doc["config"]["quick"] is True and set(doc["seconds"]) == set(METHODS)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in METHODS:
        assert name in res.output


@pytest.mark.parametrize(
    "args",
    [
        ["--data", "/nonexistent/mnist-folder"],
        ["--data", str(MNIST), "--methods", "dvsp,bogus"],
    ],
)
def test_errors_one_line(args):
    res = CliRunner().invoke(main, ["robustness", "mnist", "--quick", *args])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fuzzykey: error:"), res.output
