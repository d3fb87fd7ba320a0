"""fuzzykey.face.detect: the Umeyama similarity, alignment to the template, and YuNet on real photos."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

cv2 = pytest.importorskip("cv2")
pytest.importorskip("PIL")

from fuzzykey.errors import InvalidArgument, InvalidImage, NoFaceFound  # noqa: E402
from fuzzykey.face.detect import TEMPLATE_112, YuNetDetector, align_face, similarity_transform  # noqa: E402
from fuzzykey.face.images import load_image  # noqa: E402

BUSH = ("George_W_Bush", 1)


def lfw(root: Path, name: str, index: int) -> Path:
    return root / name / f"{name}_{index:04d}.jpg"


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return np.asarray(points, np.float64) @ matrix[:, :2].T + matrix[:, 2]


def rotation(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


# --------------------------------------------------------------------------- similarity_transform

finite = st.floats(-200.0, 200.0, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(
    k=st.integers(2, 12),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(0.05, 20.0),
    angle=st.floats(-np.pi, np.pi),
    tx=finite,
    ty=finite,
)
def test_recovers_an_exact_similarity(k: int, seed: int, scale: float, angle: float, tx: float,
                                      ty: float) -> None:
    src = np.random.default_rng(seed).uniform(-100.0, 100.0, (k, 2))
    assume(np.linalg.norm(src - src.mean(axis=0)) > 1.0)
    true = np.hstack([scale * rotation(angle), [[tx], [ty]]])
    matrix = similarity_transform(src, apply(true, src))
    assert matrix.shape == (2, 3) and matrix.dtype == np.float64
    np.testing.assert_allclose(matrix, true, rtol=1e-7, atol=1e-7 * (1 + abs(tx) + abs(ty)))


def best_residual_by_search(src: np.ndarray, dst: np.ndarray) -> float:
    """min over rotation angle (dense grid), scale >= 0 and translation of the
    squared residual, each angle's scale and translation in closed form."""
    pc, qc = src - src.mean(axis=0), dst - dst.mean(axis=0)
    angles = np.linspace(-np.pi, np.pi, 20001)
    c, s = np.cos(angles), np.sin(angles)
    # <qc, R pc> for every angle at once
    rx = c[:, None] * pc[:, 0] - s[:, None] * pc[:, 1]
    ry = s[:, None] * pc[:, 0] + c[:, None] * pc[:, 1]
    inner = (rx * qc[:, 0] + ry * qc[:, 1]).sum(axis=1)
    best_scale = np.maximum(inner, 0.0) / (pc**2).sum()
    residual = (qc**2).sum() - 2 * best_scale * inner + best_scale**2 * (pc**2).sum()
    return float(residual.min())


def check_least_squares_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    matrix = similarity_transform(src, dst)
    linear = matrix[:, :2]
    scale = np.sqrt(abs(np.linalg.det(linear)))
    assert scale > 0
    rot = linear / scale
    np.testing.assert_allclose(rot @ rot.T, np.eye(2), atol=1e-9)
    assert np.linalg.det(rot) > 0, "a similarity has no reflection"
    residual = float(((apply(matrix, src) - dst) ** 2).sum())
    assert residual <= best_residual_by_search(src, dst) + 1e-9 * (1 + residual)
    return matrix


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(3, 8))
def test_noisy_points_get_the_least_squares_similarity(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    src = rng.uniform(-50.0, 50.0, (k, 2))
    dst = apply(np.hstack([1.7 * rotation(0.4), [[3.0], [-8.0]]]), src) + rng.normal(0.0, 6.0, (k, 2))
    check_least_squares_similarity(src, dst)


def test_reflection_gives_the_best_proper_rotation() -> None:
    """Mirror images have no exact similarity; Umeyama's D flips the last
    singular direction and still returns the best rotation, not a reflection."""
    src = TEMPLATE_112.copy()
    dst = src * np.array([-1.0, 1.0]) + [200.0, 0.0]  # mirrored left-right
    check_least_squares_similarity(src, dst)
    rng = np.random.default_rng(2)
    for _ in range(20):
        p = rng.normal(size=(6, 2)) * 30
        check_least_squares_similarity(p, p[:, ::-1].copy())  # x <-> y swap is a reflection


def test_template_to_itself_is_the_identity() -> None:
    np.testing.assert_allclose(similarity_transform(TEMPLATE_112, TEMPLATE_112),
                               [[1, 0, 0], [0, 1, 0]], atol=1e-12)
    # lists work as well as arrays
    np.testing.assert_allclose(similarity_transform([[0, 0], [1, 0]], [[0, 0], [0, 2]]),
                               [[0, -2, 0], [2, 0, 0]], atol=1e-12)


@pytest.mark.parametrize(
    ("src", "dst", "words"),
    [
        (np.ones((5, 2)), TEMPLATE_112, "one place"),
        (np.zeros((5, 2)), TEMPLATE_112, "one place"),
        (TEMPLATE_112[:1], TEMPLATE_112[:1], "k >= 2"),
        (TEMPLATE_112, TEMPLATE_112[:4], r"\(5, 2\) and \(4, 2\)"),
        (np.zeros((5, 3)), np.zeros((5, 3)), "k >= 2"),
        (np.zeros(10), np.zeros(10), "k >= 2"),
        (np.where(np.eye(5, 2) > 0, np.nan, TEMPLATE_112), TEMPLATE_112, "finite"),
        (TEMPLATE_112, np.full((5, 2), np.inf), "finite"),
    ],
)
def test_degenerate_input_is_refused(src, dst, words: str) -> None:
    with pytest.raises(InvalidArgument, match=words):
        similarity_transform(src, dst)


# --------------------------------------------------------------------------- align_face


def test_align_face_moves_landmarks_onto_the_template() -> None:
    """Five coloured dots at a rotated, scaled, shifted copy of the template end
    up on the template points of the crop (checked by their centroids)."""
    true = np.hstack([2.3 * rotation(0.35), [[140.0], [60.0]]])
    points = apply(true, TEMPLATE_112)
    image = np.zeros((400, 420, 3), np.uint8)
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]
    for (x, y), colour in zip(points, colours, strict=True):
        image[(xx - x) ** 2 + (yy - y) ** 2 <= 5.0**2] = colour
    for size in (112, 224):
        crop = align_face(image, points, size)
        assert crop.shape == (size, size, 3) and crop.dtype == np.uint8 and crop.flags.c_contiguous
        for target, colour in zip(TEMPLATE_112 * size / 112, colours, strict=True):
            weight = np.all(crop.astype(int) == colour, axis=2) | (
                np.abs(crop.astype(int) - colour).sum(axis=2) < 60)
            ys, xs = np.nonzero(weight)
            assert len(xs) > 5
            np.testing.assert_allclose([xs.mean(), ys.mean()], target, atol=0.6)


# --------------------------------------------------------------------------- YuNet on LFW


@pytest.fixture(scope="module")
def bush(lfw_images: Path) -> np.ndarray:
    return load_image(lfw(lfw_images, *BUSH))


def check_face_geometry(face, width: int, height: int) -> None:
    x, y, w, h = face.box
    lm = face.landmarks
    assert lm.shape == (5, 2)
    assert np.all(lm[:, 0] > x) and np.all(lm[:, 0] < x + w), (face.box, lm)
    assert np.all(lm[:, 1] > y) and np.all(lm[:, 1] < y + h), (face.box, lm)
    r_eye, l_eye, nose, r_mouth, l_mouth = lm
    assert max(r_eye[1], l_eye[1]) < nose[1] < min(r_mouth[1], l_mouth[1])
    assert r_eye[0] < nose[0] < l_eye[0] and r_mouth[0] < l_mouth[0]
    assert 0.6 <= face.score <= 1.0
    assert 0 <= x and 0 <= y and x + w <= width + 2 and y + h <= height + 2


def test_one_big_face_near_the_centre(yunet: YuNetDetector, bush: np.ndarray) -> None:
    faces = yunet.detect(bush)
    assert len(faces) == 1
    face = faces[0]
    x, y, w, h = face.box
    assert 70 < w < 160 and 80 < h < 180
    assert abs(x + w / 2 - 125) < 25 and abs(y + h / 2 - 125) < 25
    check_face_geometry(face, 250, 250)
    assert face.area == pytest.approx(w * h)


def test_sources_and_repeat_calls_agree(yunet: YuNetDetector, bush: np.ndarray, lfw_images: Path) -> None:
    path = lfw(lfw_images, *BUSH)
    ref = yunet.detect(bush)[0]
    for source in (path, str(path), path.read_bytes(), bush):
        face = yunet.detect(source)[0]
        assert face.box == pytest.approx(ref.box)
        np.testing.assert_allclose(face.landmarks, ref.landmarks)


def test_detect_and_align_on_lfw(yunet: YuNetDetector, bush: np.ndarray) -> None:
    aligned = yunet.detect_and_align(bush)
    assert aligned.n_faces == 1
    assert aligned.crop.shape == (112, 112, 3) and aligned.crop.dtype == np.uint8
    matrix = similarity_transform(aligned.face.landmarks, TEMPLATE_112)
    moved = apply(matrix, aligned.face.landmarks)
    distance = np.linalg.norm(moved - TEMPLATE_112, axis=1)
    # A similarity cannot match five points of a real face exactly; the rest is
    # face shape and pose (about 2-4 px on average over LFW).
    assert distance.mean() < 4.0 and distance.max() < 6.0, distance
    np.testing.assert_array_equal(aligned.crop, align_face(bush, aligned.face.landmarks))
    # the crop really shows the face there: YuNet finds it again (padded), where the
    # transformed landmarks say it is, up to the detector's own jitter
    canvas = np.full((224, 224, 3), 128, np.uint8)
    canvas[56:168, 56:168] = aligned.crop
    again = yunet.detect(canvas)
    assert len(again) == 1
    assert np.linalg.norm(again[0].landmarks - 56 - moved, axis=1).max() < 8.0
    big = yunet.detect_and_align(bush, size=224)
    assert big.crop.shape == (224, 224, 3)


def test_blank_image_has_no_face(yunet: YuNetDetector) -> None:
    grey = np.full((250, 250, 3), 128, np.uint8)
    assert yunet.detect(grey) == []
    with pytest.raises(NoFaceFound, match=r"image array of shape \(250, 250, 3\)"):
        yunet.detect_and_align(grey)


@pytest.mark.parametrize("shape", [(1, 1), (8, 8), (20, 3000), (3000, 3)])
def test_tiny_and_thin_images_have_no_face(yunet: YuNetDetector, shape: tuple[int, int]) -> None:
    assert yunet.detect(np.full((*shape, 3), 90, np.uint8)) == []


def test_unreadable_input_is_invalid_image(yunet: YuNetDetector) -> None:
    with pytest.raises(InvalidImage):
        yunet.detect(b"no image here")
    with pytest.raises(InvalidImage):
        yunet.detect_and_align(np.zeros((10, 10), np.uint8))


def test_two_faces_the_larger_is_chosen(yunet: YuNetDetector, bush: np.ndarray, lfw_images: Path) -> None:
    other = load_image(lfw(lfw_images, "Colin_Powell", 1))
    small = cv2.resize(other, (150, 150), interpolation=cv2.INTER_AREA)
    canvas = np.full((300, 500, 3), 128, np.uint8)
    canvas[25:275, 0:250] = bush  # face about 90 px wide
    canvas[75:225, 320:470] = small  # face about 55 px wide
    faces = yunet.detect(canvas)
    assert len(faces) == 2
    assert faces[0].area > faces[1].area
    assert faces[0].box[0] + faces[0].box[2] < 250 and faces[1].box[0] > 320
    for face in faces:
        check_face_geometry(face, 500, 300)
    aligned = yunet.detect_and_align(canvas)
    assert aligned.n_faces == 2
    assert aligned.face.box == faces[0].box
    # the left face is Bush, at the same place as in his own photo (shifted down by 25)
    alone = yunet.detect(bush)[0]
    np.testing.assert_allclose(aligned.face.landmarks, alone.landmarks + [0, 25], atol=3.0)


def test_large_photo_is_scaled_for_detection(yunet: YuNetDetector, bush: np.ndarray) -> None:
    big = cv2.resize(bush, (1500, 1500), interpolation=cv2.INTER_CUBIC)  # 6x, above max_side
    assert max(big.shape) > yunet.max_side
    faces = yunet.detect(big)
    assert len(faces) == 1
    face = faces[0]
    check_face_geometry(face, 1500, 1500)
    # landmarks are in the 1500 px photo's coordinates (up to YuNet's own change of
    # mind on a face five times larger: within a tenth of the face width) ...
    small = yunet.detect(bush)[0]
    assert np.linalg.norm(face.landmarks / 6 - small.landmarks, axis=1).max() < 0.1 * small.box[2]
    assert face.box[2] / 6 == pytest.approx(small.box[2], rel=0.25)
    # ... and exactly those of the downscaled photo, scaled back up
    work = cv2.resize(big, (1280, 1280), interpolation=cv2.INTER_AREA)
    scaled = yunet.detect(work)[0]
    np.testing.assert_allclose(face.landmarks, scaled.landmarks * 1500 / 1280, atol=1e-3)
    np.testing.assert_allclose(face.box, np.asarray(scaled.box) * 1500 / 1280, atol=1e-3)
    aligned = yunet.detect_and_align(big)
    assert aligned.crop.shape == (112, 112, 3)


def test_threads_get_their_own_detector(yunet: YuNetDetector, lfw_images: Path) -> None:
    files = [lfw(lfw_images, "George_W_Bush", i) for i in (1, 2, 3, 4)]
    files += [lfw(lfw_images, "Colin_Powell", i) for i in (1, 2)]
    serial = [yunet.detect(f)[0].landmarks for f in files]
    with ThreadPoolExecutor(3) as pool:
        parallel = list(pool.map(lambda f: yunet.detect(f)[0].landmarks, files * 2))
    for a, b in zip(serial * 2, parallel, strict=True):
        np.testing.assert_allclose(a, b)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"score_threshold": 0.0}, {"score_threshold": 1.0}, {"score_threshold": 1.5},
        {"score_threshold": -0.2}, {"score_threshold": "0.5"}, {"score_threshold": None},
        {"score_threshold": float("nan")}, {"nms_threshold": 0.0}, {"nms_threshold": 1.0},
        {"nms_threshold": 2}, {"max_side": 10}, {"max_side": 63}, {"max_side": 640.0}, {"max_side": "big"},
    ],
)
def test_bad_settings(kwargs: dict) -> None:
    with pytest.raises(InvalidArgument, match=next(iter(kwargs))):
        YuNetDetector(**kwargs)


def test_settings_are_kept() -> None:
    det = YuNetDetector(score_threshold=0.9, nms_threshold=0.4, max_side=640)
    assert (det.score_threshold, det.nms_threshold, det.max_side) == (0.9, 0.4, 640)
    assert "0.9" in repr(det) and "640" in repr(det)
    assert YuNetDetector.name == "yunet-2023mar-int8bq"


# --------------------------------------------------------------------------- a library is quiet
def test_loading_and_using_the_models_writes_nothing_to_stderr(lfw_images: Path, tmp_path: Path) -> None:
    """OpenCV's DNN engine warns on stderr while YuNet loads; KeyGen must not pass that on."""
    import os
    import subprocess
    import sys

    import fuzzykey

    photo = lfw(lfw_images, *BUSH)
    code = (
        "from fuzzykey import KeyGen\n"
        "kg = KeyGen.from_pretrained()\n"
        f"emb, faces = kg.embed({str(photo)!r})\n"
        f"key, helper = kg.enroll({str(photo)!r}, secret=bytes(range(32)))\n"
        "print(emb.shape, len(key))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OPENCV_LOG_LEVEL", "OPENCV_VIDEOIO_DEBUG")}
    env["FUZZYKEY_CACHE"] = str(tmp_path / "cache")  # a first load, as an application's would be
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(fuzzykey.__file__).resolve().parent.parent,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(1, 128) 32"
    assert out.stderr == ""
