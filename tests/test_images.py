"""fuzzykey.face.images.load_image: every source kind, EXIF orientation, and refusals.

The reference pixels of a JPEG come from PIL directly (the decoder load_image
uses), so "identical" below means bit for bit.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image")

from fuzzykey.errors import FuzzyKeyError, InvalidArgument, InvalidImage  # noqa: E402
from fuzzykey.face.images import ImageLimits, describe_source, load_image  # noqa: E402

ORIENTATION = 0x0112  # the EXIF tag


@pytest.fixture(scope="module")
def jpeg_path(lfw_images: Path) -> Path:
    return lfw_images / "George_W_Bush" / "George_W_Bush_0001.jpg"


@pytest.fixture(scope="module")
def jpeg_pixels(jpeg_path: Path) -> np.ndarray:
    with Image.open(jpeg_path) as img:
        return np.asarray(img.convert("RGB")).copy()


def encode(img, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def with_orientation(arr: np.ndarray, orientation: int, fmt: str) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    kwargs = {"quality": 95} if fmt == "JPEG" else {}
    return encode(Image.fromarray(arr), fmt, exif=exif, **kwargs)


def marked_image(height: int, width: int, block: int = 1) -> np.ndarray:
    """An image whose corners have different colours, so every rotation and
    mirror is told apart; ``block`` scales it up (for lossy JPEG)."""
    a = np.full((height, width, 3), 40, np.uint8)
    a[0, 0] = (255, 0, 0)
    a[0, -1] = (0, 255, 0)
    a[-1, 0] = (0, 0, 255)
    a[-1, -1] = (255, 255, 0)
    return np.kron(a, np.ones((block, block, 1), np.uint8))


# --------------------------------------------------------------------------- sources


def test_every_source_kind_gives_the_same_pixels(jpeg_path: Path, jpeg_pixels: np.ndarray) -> None:
    data = jpeg_path.read_bytes()
    with Image.open(jpeg_path) as pil:
        pil.load()
        sources = {
            "str": str(jpeg_path),
            "Path": jpeg_path,
            "bytes": data,
            "bytearray": bytearray(data),
            "memoryview": memoryview(data),
            "PIL": pil,
            "numpy": jpeg_pixels.copy(),
        }
        for kind, source in sources.items():
            out = load_image(source)
            assert out.shape == (250, 250, 3), kind
            assert out.dtype == np.uint8, kind
            assert out.flags.c_contiguous, kind
            np.testing.assert_array_equal(out, jpeg_pixels, err_msg=kind)


def test_rgb_order_and_non_contiguous_arrays() -> None:
    a = marked_image(5, 7)
    png = encode(Image.fromarray(a), "PNG")
    np.testing.assert_array_equal(load_image(png), a)  # red stays in channel 0
    view = a[:, ::-1]
    out = load_image(view)
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, view)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "1"])
def test_other_pil_modes_become_rgb(mode: str) -> None:
    img = Image.fromarray(marked_image(4, 6)).convert(mode)
    out = load_image(img)
    assert out.shape == (4, 6, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.asarray(img.convert("RGB")))


def test_rgba_png_drops_alpha() -> None:
    rgba = np.zeros((3, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 1] = np.arange(4, dtype=np.uint8) * 10
    rgba[..., 3] = 7  # almost transparent: the colour is kept, not blended
    out = load_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    np.testing.assert_array_equal(out, rgba[..., :3])


def test_16_bit_greyscale_png_is_scaled_not_clipped() -> None:
    """A 16-bit greyscale PNG (value v stored as v * 257) must read back as v.

    PIL's ``convert("RGB")`` clips 'I;16' pixels at 255 instead of scaling, so
    every non-black pixel turns white unless load_image rescales first.
    """
    v = np.arange(256, dtype=np.uint16).reshape(16, 16)
    png = encode(Image.fromarray(v * 257), "PNG")
    with Image.open(io.BytesIO(png)) as probe:
        assert probe.mode.startswith("I")  # really a 16-bit image
    out = load_image(png)
    assert out.shape == (16, 16, 3)
    diff = np.abs(out.astype(np.int16) - v.astype(np.int16)[:, :, None])
    assert diff.max() <= 1, f"16-bit grey read back wrongly, e.g. {v[0, :6]} -> {out[0, :6, 0]}"


# --------------------------------------------------------------------------- EXIF orientation


@pytest.mark.parametrize(
    ("orientation", "expected"),
    [
        (1, lambda a: a),
        (2, lambda a: a[:, ::-1]),  # mirrored left-right
        (3, lambda a: a[::-1, ::-1]),  # upside down
        (6, lambda a: np.rot90(a, -1)),  # must turn 90 degrees clockwise
        (8, lambda a: np.rot90(a, 1)),  # must turn 90 degrees counter-clockwise
    ],
)
def test_exif_orientation_is_applied_to_png(orientation: int, expected) -> None:
    a = marked_image(4, 6)
    data = with_orientation(a, orientation, "PNG")
    want = expected(a)
    np.testing.assert_array_equal(load_image(data), want)
    with Image.open(io.BytesIO(data)) as pil:  # a PIL image with the tag as well
        np.testing.assert_array_equal(load_image(pil), want)


def test_exif_orientation_is_applied_to_jpeg(tmp_path: Path) -> None:
    a = marked_image(4, 6, block=16)  # 64 x 96, corner blocks survive JPEG
    path = tmp_path / "phone.jpg"
    path.write_bytes(with_orientation(a, 6, "JPEG"))
    out = load_image(path)
    assert out.shape == (96, 64, 3)  # portrait after turning
    want = np.rot90(a, -1)
    # compare block centres: JPEG is lossy at the block edges
    centres = (slice(8, None, 16), slice(8, None, 16))
    err = np.abs(out[centres].astype(int) - want[centres].astype(int)).max()
    assert err < 20


# --------------------------------------------------------------------------- float arrays


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_arrays_in_range_are_rounded(dtype) -> None:
    rng = np.random.default_rng(3)
    a = rng.uniform(0.0, 255.0, (5, 4, 3)).astype(dtype)
    a[0, 0] = (0.0, 255.0, 127.4)
    out = load_image(a)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.rint(a.astype(np.float64)).astype(np.uint8))
    assert tuple(out[0, 0]) == (0, 255, 127)


@pytest.mark.parametrize(
    ("value", "words"),
    [(np.nan, "NaN"), (np.inf, "NaN or infinity"), (-np.inf, "infinity"),
     (-0.5, "[0, 255]"), (255.5, "[0, 255]"), (1e6, "[0, 255]")],
)
def test_bad_float_pixels(value: float, words: str) -> None:
    a = np.full((3, 3, 3), 10.0)
    a[1, 2, 0] = value
    with pytest.raises(InvalidImage, match=r"image array of shape \(3, 3, 3\)") as info:
        load_image(a)
    assert words in str(info.value)


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "shape", [(5, 5), (5, 5, 1), (5, 5, 4), (2, 5, 5, 3), (15,), (3, 5, 5), ()],
)
def test_wrong_shape(shape: tuple[int, ...]) -> None:
    with pytest.raises(InvalidImage, match=r"\(H, W, 3\)") as info:
        load_image(np.zeros(shape, np.uint8))
    assert str(shape) in str(info.value)


@pytest.mark.parametrize("shape", [(0, 5, 3), (5, 0, 3), (0, 0, 3)])
def test_empty_array(shape: tuple[int, ...]) -> None:
    with pytest.raises(InvalidImage, match="empty"):
        load_image(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("dtype", [np.int64, np.int16, np.uint16, np.bool_, np.complex64, object])
def test_wrong_dtype(dtype) -> None:
    with pytest.raises(InvalidImage, match="expected dtype uint8") as info:
        load_image(np.zeros((4, 4, 3), dtype))
    assert str(np.dtype(dtype)) in str(info.value)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nobody.jpg"
    for source in (missing, str(missing)):
        with pytest.raises(InvalidImage, match="does not exist") as info:
            load_image(source)
        assert str(missing) in str(info.value)


def test_directory_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "photos.jpg"
    folder.mkdir()
    with pytest.raises(InvalidImage, match="not a file") as info:
        load_image(folder)
    assert str(folder) in str(info.value)


def test_garbage_file_and_bytes(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_bytes(b"this is not an image at all")
    with pytest.raises(InvalidImage, match="not a readable image") as info:
        load_image(path)
    assert str(path) in str(info.value)
    with pytest.raises(InvalidImage, match=r"image bytes \(12 bytes\)"):
        load_image(b"not an image")
    with pytest.raises(InvalidImage, match=r"image bytes \(0 bytes\)"):
        load_image(b"")


@pytest.mark.parametrize("keep", [0.95, 0.5, 0.05])
def test_truncated_jpeg(jpeg_path: Path, tmp_path: Path, keep: float) -> None:
    data = jpeg_path.read_bytes()
    cut = data[: int(len(data) * keep)]
    with pytest.raises(InvalidImage, match=rf"image bytes \({len(cut)} bytes\)"):
        load_image(cut)
    path = tmp_path / "cut.jpg"
    path.write_bytes(cut)
    with pytest.raises(InvalidImage) as info:
        load_image(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("source", [None, 42, 3.5, [[[0, 0, 0]]], {"path": "x.jpg"}, object()])
def test_unsupported_types(source) -> None:
    with pytest.raises(InvalidImage, match="not a supported image source") as info:
        load_image(source)
    assert type(source).__name__ in str(info.value)


def test_decompression_bomb_is_refused() -> None:
    big = encode(Image.new("1", (8100, 8000)), "PNG")  # 64.8 Mpx, a few kB on disk
    with pytest.raises(InvalidImage, match="more than 50000000"):
        load_image(big)


def _truncated_jpeg(width: int, height: int) -> bytes:
    """A small JPEG whose header declares ``width`` x ``height`` (the scan data cut off)."""
    data = encode(Image.new("RGB", (width, height)), "JPEG")
    return data[:4000]


@pytest.mark.parametrize(
    "data, message",
    [
        (lambda: _truncated_jpeg(7999, 7999), "more than 50000000"),  # 64 Mpx declared in 4 kB
        (lambda: encode(Image.new("1", (1, 8000)), "PNG"), "aspect ratio"),
        (lambda: encode(Image.new("1", (40_000, 10)), "PNG"), "a side may have at most 30000"),
    ],
    ids=["bomb-jpeg", "strip", "side"],
)
def test_declared_dimensions_are_refused_before_decoding(data, message: str) -> None:
    with pytest.raises(InvalidImage, match=message):
        load_image(data())


def test_limits_are_configurable_and_checked() -> None:
    small = np.zeros((40, 30, 3), np.uint8)
    png = encode(Image.fromarray(small), "PNG")
    assert load_image(png).shape == (40, 30, 3)
    with pytest.raises(InvalidImage, match="more than 1000"):
        load_image(png, limits=ImageLimits(max_pixels=1000))
    with pytest.raises(InvalidImage, match="larger than 50 bytes"):
        load_image(png, limits=ImageLimits(max_file_bytes=50))
    with pytest.raises(InvalidImage, match="aspect ratio may be at most 1.2:1"):
        load_image(png, limits=ImageLimits(max_aspect=1.2))
    with pytest.raises(InvalidImage, match="more than 1000"):
        load_image(Image.fromarray(small), limits=ImageLimits(max_pixels=1000))  # PIL images too
    for bad in ({"max_pixels": 0}, {"max_file_bytes": 1.5}, {"max_side": True}, {"max_aspect": 0.5}):
        with pytest.raises(InvalidArgument, match="ImageLimits"):
            ImageLimits(**bad)
    with pytest.raises(InvalidArgument, match="limits must be an ImageLimits"):
        load_image(png, limits=1000)


def test_file_size_is_capped_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(b"\xff\xd8" + bytes(2000))
    with pytest.raises(InvalidImage, match="larger than 1000 bytes"):
        load_image(path, limits=ImageLimits(max_file_bytes=1000))


@pytest.mark.parametrize("dtype, mode", [(np.int32, "I"), (np.float32, "F")])
def test_wide_integer_and_float_images_are_invalid_not_black(dtype, mode: str) -> None:
    a = (np.arange(64 * 64).reshape(64, 64) % 200).astype(dtype)
    tiff = encode(Image.fromarray(a), "TIFF")
    assert Image.open(io.BytesIO(tiff)).mode == mode
    with pytest.raises(InvalidImage, match=f"mode '{mode}'"):
        load_image(tiff)
    with pytest.raises(InvalidImage, match="range is unknown"):
        load_image(Image.fromarray(a))


def test_errors_are_value_errors_and_fuzzykey_errors() -> None:
    with pytest.raises(ValueError):
        load_image(b"x")
    with pytest.raises(FuzzyKeyError):
        load_image(np.zeros((2, 2), np.uint8))


def test_describe_source() -> None:
    assert describe_source("a.jpg") == "image file 'a.jpg'"
    assert describe_source(Path("b.png")) == "image file 'b.png'"
    assert describe_source(b"abc") == "image bytes (3 bytes)"
    assert describe_source(np.zeros((2, 3, 3), np.float32)) == \
        "image array of shape (2, 3, 3) and dtype float32"
    assert describe_source(7) == "image of type int"
