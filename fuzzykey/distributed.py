"""The Ray engine: embeddings, impostor counts and batch enrollment on a Ray cluster.

Nothing here is a scheduler: Ray runs the work and retries what fails. This
module only says what each piece of work is. It needs ``pip install
'fuzzykey[ray]'`` (Ray Data and pyarrow), imported on first use: ``import
fuzzykey.distributed`` and everything else work without Ray.

- :func:`embed_folder_ray`: every image of ``DIR/<person>/`` through YuNet and
  SFace on a Ray Data actor pool (``map_batches``; each actor loads the two
  models once and runs onnxruntime and OpenCV on as many threads as it has
  CPUs), written as an embeddings file
  (:mod:`fuzzykey.evaluation.embeddings_file`) in the input order. A failed
  file is a row with its error. An actor that dies is restarted by Ray and its
  batch run again, and the rows come back in input order, so the file holds
  every input exactly once.
- :class:`RayDistances`: a :class:`~fuzzykey.evaluation.distances.DistanceEngine`
  whose impostor comparisons run as Ray tasks over shards of the gallery (whole
  batches of enrollees); each task returns a histogram of Hamming distances
  (n + 1 counts), which are summed: pairs are never shipped back, and all
  cross-person pairs of a set are counted without being listed. The shards are
  those of :class:`~fuzzykey.evaluation.distances.LocalDistances`, so the
  counts are the same, bit for bit, on machines whose BLAS rounds alike.
- :func:`enroll_embeddings`: :meth:`fuzzykey.KeyGen.enroll_embedding` over the
  rows of a Ray Dataset, helpers written as Parquet.

What happens to secrets in :func:`enroll_embeddings`. Ray's object store and
task arguments are not encrypted, so no secret is passed through them in
plain form:

- **face-only** rows have no secret; the key is derived on the worker and
  leaves it only sealed to the service's RSA public key (``recipient``), or
  not at all (then the helpers are the output and keys appear at reproduction);
- **secret** and **two-factor** rows never get a secret from the caller: each
  row's 32-byte secret is drawn on the worker (:func:`os.urandom`), used, and
  leaves the worker only sealed together with the key to ``recipient``
  (required);
- sealing (:func:`seal`) is RSA-OAEP-SHA256 of a fresh AES-256 key and
  AES-256-GCM of the payload, with SHA-256 of the row's helper as associated
  data, so a sealed blob opens (:func:`open_sealed`, with the private key,
  which never touches Ray) only beside its own helper.

The embeddings themselves are biometric data and do travel through Ray in plain
form; run the cluster where the photos may be.

Ray's own logging is silenced unless asked for (``verbose=True``): a library
writes nothing on stderr.

Example (no Ray needed to seal and open):
    >>> from Crypto.PublicKey import RSA
    >>> from fuzzykey.distributed import open_sealed, seal
    >>> service = RSA.generate(2048)
    >>> blob = seal(service.public_key().export_key(), key=b"k" * 32, secret=None, helper=b"helper")
    >>> opened = open_sealed(service.export_key(), blob, helper=b"helper")
    >>> opened.key == b"k" * 32, opened.secret
    (True, None)
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from .bch import BCHCode
from .binarizers import Binarizer
from .errors import InvalidArgument
from .evaluation.distances import (
    cross_person_histogram,
    cross_person_shards,
    pair_histogram,
    pair_shards,
    sample_shards,
    sampled_histogram,
)
from .evaluation.embeddings_file import (
    EmbeddingsWriter,
    EmbedSummary,
    folder_rows,
    pipeline_metadata,
    rows_table,
)
from .evaluation.progress import Progress, silent
from .facekeys import ZeroLeakageKeys
from .header import KEY_MODES, MODES, KeyMode, Mode
from .keygen import KeyGen

__all__ = [
    "ray_session",
    "EmbedActor",
    "embed_folder_ray",
    "KeyGenRecipe",
    "RayDistances",
    "EnrollSummary",
    "enroll_embeddings",
    "embeddings_dataset",
    "seal",
    "open_sealed",
    "Opened",
]

_LOGGERS = ("ray", "ray.data", "ray.train", "ray.tune")
_BACKEND_INFO = re.compile(r"^\[[^\]]* I \d+ \d+\] ")  # Ray's C++ INFO lines: "[date time I pid tid] ..."
_SEAL_MAGIC = b"FKS1"


# --------------------------------------------------------------------------- sessions
def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise InvalidArgument(f"the Ray engine needs Ray ({exc}): pip install 'fuzzykey[ray]'") from None
    return ray


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    """Environment variables set for the block unless already set; restored afterwards."""
    added = [k for k in values if k not in os.environ]
    for k in added:
        os.environ[k] = values[k]
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


@contextlib.contextmanager
def _stderr_filtered(verbose: bool) -> Iterator[None]:
    """Keep Ray's C++ INFO lines (printed while it starts) off stderr; other lines pass."""
    if verbose:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            for line in tmp.read().decode("utf-8", "replace").splitlines():
                if line.strip() and not _BACKEND_INFO.match(line):
                    print(line, file=sys.stderr)


@contextlib.contextmanager
def ray_session(
    address: str | None = None, *, num_cpus: int | None = None, verbose: bool = False
) -> Iterator[None]:
    """Ray connected for the block: the running session if there is one, else a new one.

    ``address`` is a cluster's (``"auto"``, ``"host:6379"``, ``"ray://host:10001"``);
    None starts a local cluster with ``num_cpus`` CPUs (default: all). A
    session this call starts is shut down on exit; one that was running stays.
    Usage statistics are off (nothing is sent anywhere). Unless ``verbose``,
    nothing of Ray's reaches stderr or stdout: workers' output is not forwarded,
    Ray's Python loggers show errors only, its C++ core (driver, and the
    processes of a cluster this call starts) logs fatal errors only, and the
    cluster's messages to the driver (a retried task, a dead worker) go to the
    ``ray`` logger at WARNING.
    """
    ray = _ray()
    if ray.is_initialized():
        yield
        return
    levels = {name: logging.getLogger(name).level for name in _LOGGERS}
    quiet_env = {"RAY_USAGE_STATS_ENABLED": "0"}
    if not verbose:
        quiet_env["RAY_BACKEND_LOG_LEVEL"] = "fatal"
        quiet_env["RAY_DATA_DISABLE_PROGRESS_BARS"] = "1"
    kwargs: dict[str, Any] = {
        "address": address,
        "log_to_driver": verbose,
        "logging_level": logging.INFO if verbose else logging.ERROR,
    }
    if address is None:  # a local cluster of our own: no dashboard, the CPUs asked for
        kwargs["include_dashboard"] = False
        if num_cpus is not None:
            kwargs["num_cpus"] = int(num_cpus)
    with _env(**quiet_env), _stderr_filtered(verbose):
        ray.init(**kwargs)
    printer = None if verbose else _route_cluster_messages()
    try:
        if not verbose:
            for name in _LOGGERS:
                logging.getLogger(name).setLevel(logging.ERROR)
        yield
    finally:
        ray.shutdown()
        if printer is not None:
            printer()
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _route_cluster_messages() -> Any:
    """Send the cluster's messages to the driver (a retried task, a dead worker: Ray prints them
    on stdout) to the ``ray`` logger instead, at WARNING; returns the function that undoes it.

    Ray has no setting for this; its printer is replaced for the session when
    it is where Ray 2.4x-2.6x keeps it, else nothing is changed.
    """
    import importlib

    try:
        module = importlib.import_module("ray._private.worker")
    except ImportError:
        return None
    original = getattr(module, "print_to_stdstream", None)
    if original is None:
        return None
    log = logging.getLogger("ray")

    def to_logger(data: dict[str, Any], ignore_prefix: bool = False) -> None:
        for line in data.get("lines", []):
            log.warning("(%s) %s", data.get("pid", "ray"), line)

    module.__dict__["print_to_stdstream"] = to_logger

    def restore() -> None:
        module.__dict__["print_to_stdstream"] = original

    return restore


@contextlib.contextmanager
def _data_context(verbose: bool = False) -> Iterator[Any]:
    """Ray Data's context for one run: rows in input order (``preserve_order``), no progress
    bars and (unless ``verbose``) no log lines on stderr; restored afterwards."""
    import ray.data

    logger = logging.getLogger("ray.data")
    level = logger.level
    if not verbose:
        logger.setLevel(logging.ERROR)
    with warnings.catch_warnings():
        # Ray Data's context sets its own deprecated fields when it is made or copied
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray\.")
        ctx = ray.data.DataContext.get_current()
        saved = (ctx.execution_options.preserve_order, ctx.enable_progress_bars)
        ctx.execution_options.preserve_order = True
        ctx.enable_progress_bars = False
        try:
            yield ctx
        finally:
            ctx.execution_options.preserve_order, ctx.enable_progress_bars = saved
            logger.setLevel(level)


def _cluster_cpus() -> int:
    return max(1, int(_ray().cluster_resources().get("CPU", 1)))


# --------------------------------------------------------------------------- embeddings
class EmbedActor:
    """One Ray Data actor: YuNet + an encoder, loaded once; a batch of relative paths in, rows out.

    ``threads`` is the actor's CPU count: onnxruntime's intra-op threads and
    OpenCV's. The rows are those of :func:`~fuzzykey.evaluation.datasets.embed_files`
    without its cache (:func:`~fuzzykey.evaluation.embeddings_file.rows_table`).

    ``fail_once`` is a fire drill: the first batch that finds no file at that
    path creates it and kills its actor half-way (``os._exit``), as a lost node
    would; Ray restarts the actor and runs the batch again.
    """

    def __init__(
        self, root: str, encoder: str = "sface", threads: int = 1, fail_once: str | None = None
    ) -> None:
        import cv2

        from .face.detect import YuNetDetector
        from .face.encoders import OnnxEncoder, SFaceEncoder

        cv2.setNumThreads(threads)
        self.root = Path(root)
        self.detector = YuNetDetector()
        self.encoder: Any = (
            SFaceEncoder(threads=threads) if encoder == "sface" else OnnxEncoder(encoder, threads=threads)
        )
        self.fail_once = fail_once

    def __call__(self, batch: dict[str, NDArray[Any]]) -> Any:
        from .evaluation.datasets import embed_files

        paths = [str(p) for p in batch["path"]]
        people = [str(p) for p in batch["person"]]
        files = [self.root / p for p in paths]
        if self.fail_once is not None:
            try:
                fd = os.open(self.fail_once, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.close(fd)
                embed_files(files[: max(1, len(files) // 2)], self.detector, self.encoder, cache=False)
                os._exit(1)
        done = embed_files(files, self.detector, self.encoder, cache=False, batch_size=max(1, len(files)))
        errors = [done.failures.get(i) for i in range(len(files))]
        n_faces = np.where(done.ok, done.n_faces, 0)
        dim = int(self.encoder.dim)
        return rows_table(paths, people, done.digests, done.embeddings, n_faces, errors, dim=dim)


def _encoder_identity(encoder: str) -> tuple[Any, Any]:
    """Detector and encoder objects for the file metadata (no model is run)."""
    from .face.detect import YuNetDetector
    from .face.encoders import OnnxEncoder

    if encoder == "sface":
        return YuNetDetector(), _Named(KeyGen().encoder_name, 128)
    return YuNetDetector(), OnnxEncoder(encoder, threads=1)


def embed_folder_ray(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    address: str | None = None,
    workers: int | None = None,
    cpus_per_worker: int = 1,
    batch_size: int = 32,
    encoder: str = "sface",
    progress: Progress = silent,
    verbose: bool = False,
    fail_once: str | os.PathLike[str] | None = None,
) -> EmbedSummary:
    """Embed every image of ``root/<person>/`` on Ray and write the embeddings file ``out``.

    The paths are read here and become a Ray Dataset of one block per
    ``batch_size`` images; ``map_batches`` runs :class:`EmbedActor` on a pool
    of ``workers`` actors (default: the cluster's CPUs / ``cpus_per_worker``),
    each with ``cpus_per_worker`` CPUs and as many onnxruntime threads. The
    rows come back in input order and are written here, batch by batch, as
    they arrive (``progress`` counts them). Every worker must see ``root`` at
    the same absolute path (a shared filesystem). ``encoder`` is ``"sface"`` or
    the path of an ONNX encoder. Uses the running Ray session, else starts one
    at ``address`` (:func:`ray_session`).
    """
    if batch_size < 1 or cpus_per_worker < 1 or (workers is not None and workers < 1):
        raise InvalidArgument(
            f"batch_size, cpus_per_worker and workers must be >= 1, "
            f"got {batch_size}, {cpus_per_worker}, {workers}"
        )
    t0 = time.perf_counter()
    base, paths, people = folder_rows(root)
    detector, enc = _encoder_identity(encoder)
    meta = pipeline_metadata(base, detector, enc, "ray")
    dim = int(enc.dim)
    errors: list[str] = []
    with ray_session(address, verbose=verbose):
        import ray.data

        size = workers if workers is not None else max(1, _cluster_cpus() // cpus_per_worker)
        items = [{"path": p, "person": q} for p, q in zip(paths, people, strict=True)]
        with _data_context(verbose), progress("embedding", len(paths)) as advance:
            ds = ray.data.from_items(items, override_num_blocks=max(1, math.ceil(len(items) / batch_size)))
            rows = ds.map_batches(
                EmbedActor,
                fn_constructor_kwargs={
                    "root": str(base),
                    "encoder": encoder,
                    "threads": cpus_per_worker,
                    "fail_once": None if fail_once is None else str(fail_once),
                },
                batch_size=batch_size,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=size),
                num_cpus=cpus_per_worker,
            )
            with EmbeddingsWriter(out, meta, dim=dim) as writer:
                for table in rows.iter_batches(batch_size=None, batch_format="pyarrow"):
                    # every input once, in order: anything else stops the run before the file appears
                    got = table.column("path").to_pylist()
                    if got != paths[writer.rows : writer.rows + len(got)]:
                        raise InvalidArgument(
                            f"Ray returned rows out of input order at row {writer.rows}: {got[:3]!r}..."
                        )
                    writer.write(table)
                    errors += [e for e in table.column("error").to_pylist() if e is not None]
                    advance(len(got))
                if writer.rows != len(paths):
                    raise InvalidArgument(f"Ray returned {writer.rows} rows for {len(paths)} images")
    return EmbedSummary(Path(out), len(paths), len(errors), time.perf_counter() - t0, "ray", errors)


# --------------------------------------------------------------------------- the pipeline on workers
class _Named:
    """A stand-in encoder or detector that only carries a name (workers enroll from embeddings)."""

    def __init__(self, name: str, dim: int = 128) -> None:
        self._name = name
        self._dim = dim

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def input_size(self) -> int:
        return 112

    def embed(self, faces: Any) -> NDArray[np.float32]:
        raise InvalidArgument(f"{self._name!r} is a name only here: this worker enrolls from embeddings")

    def detect_and_align(self, image: Any, size: int = 112) -> Any:
        raise InvalidArgument(f"{self._name!r} is a name only here: this worker enrolls from embeddings")


@dataclass(frozen=True)
class KeyGenRecipe:
    """What a worker needs to rebuild a :class:`~fuzzykey.KeyGen` that works from embeddings.

    A KeyGen holds native codes and loaded models, which do not travel; this
    holds the binarizers, the BCH codes' ``(m, t, n)``, the key length, erasure
    trials, ``info`` label, the encoder's and detector's names (the rebuilt
    KeyGen records them in helpers but cannot run the models) and the
    zero-leakage scheme's transform, code dimension, KDF and gate (its key
    length, label and names are the KeyGen's).
    """

    secret_binarizer: Binarizer
    face_binarizer: Binarizer
    secret_code: tuple[int, int, int]
    face_code: tuple[int, int, int]
    key_bytes: int
    erasure_trials: tuple[int, ...]
    info: bytes
    encoder: str
    detector: str
    dim: int
    zl_transform: Any
    zl_k: int
    zl_kdf: Any
    zl_gate: float

    @classmethod
    def of(cls, kg: KeyGen) -> KeyGenRecipe:
        """The recipe of ``kg`` (its models are not loaded by this)."""
        s, f = kg.code("secret"), kg.code("face-only")
        zl = kg.zero_leakage
        return cls(
            kg.binarizer("secret"),
            kg.binarizer("face-only"),
            (s.m, s.t, s.n),
            (f.m, f.t, f.n),
            kg.key_bytes,
            kg.erasure_trials,
            kg.info,
            kg.encoder_name,
            kg.detector_name,
            kg.binarizer("secret").dim,
            zl.transform,
            zl.k,
            zl.extractor.kdf,
            zl.gate,
        )

    def build(self, *, zero_leakage: bool = True) -> KeyGen:
        """The KeyGen (default models, loaded lazily, when the names are the defaults); without
        ``zero_leakage`` its zero-leakage scheme is the default one (for work that never uses it)."""
        default = KeyGen()
        enc = None if self.encoder == default.encoder_name else _Named(self.encoder, self.dim)
        det = None if self.detector == default.detector_name else _Named(self.detector)
        return KeyGen(
            det,
            enc,
            secret_binarizer=self.secret_binarizer,
            secret_code=BCHCode(*self.secret_code),
            face_binarizer=self.face_binarizer,
            face_code=BCHCode(*self.face_code),
            key_bytes=self.key_bytes,
            erasure_trials=self.erasure_trials,
            info=self.info,
            zero_leakage=ZeroLeakageKeys(
                self.zl_transform,
                k=self.zl_k,
                kdf=self.zl_kdf,
                gate=self.zl_gate,
                key_bytes=self.key_bytes,
                info=self.info,
                encoder=self.encoder,
                detector=self.detector,
            )
            if zero_leakage
            else None,
        )


# --------------------------------------------------------------------------- impostor counts
def _histogram_task(recipe: KeyGenRecipe, mode: Mode, kind: str, x: Any, seeds: Any, arg: Any) -> Any:
    """One shard's histogram on a worker: ``kind`` is ``pairs`` (arg: the pairs), ``rows``
    (arg: a range of enrollees) or ``sample`` (arg: labels, count, seed, shard)."""
    kg = recipe.build(zero_leakage=False)
    if kind == "pairs":
        return pair_histogram(kg, mode, x, arg, seeds)
    if kind == "rows":
        labels, rows = arg
        return cross_person_histogram(kg, mode, x, labels, seeds, rows)
    labels, count, seed, per_shard, shard = arg
    return sampled_histogram(kg, mode, x, labels, seeds, count, seed, per_shard, shards=[shard])


class RayDistances:
    """A :class:`~fuzzykey.evaluation.distances.DistanceEngine` that counts on Ray tasks.

    The embeddings and seeds are put in the object store once; each task
    takes a shard (about ``pairs_per_shard`` pairs, whole enrollee batches),
    computes its distances as :mod:`fuzzykey.evaluation.distances` does and
    returns ``n + 1`` counts; the driver sums them as they arrive. Needs a Ray
    session (:func:`ray_session`). A task lost with its node is run again
    (``max_retries``).
    """

    name = "ray"

    def __init__(
        self, *, pairs_per_shard: int = 1_000_000, cpus_per_task: int = 1, max_retries: int = 3
    ) -> None:
        if pairs_per_shard < 1 or cpus_per_task < 1 or max_retries < 0:
            raise InvalidArgument(
                f"pairs_per_shard and cpus_per_task must be >= 1 and max_retries >= 0, "
                f"got {pairs_per_shard}, {cpus_per_task}, {max_retries}"
            )
        self.pairs_per_shard = pairs_per_shard
        self.cpus_per_task = cpus_per_task
        self.max_retries = max_retries
        self.tasks = 0
        """Tasks submitted so far (for reports)."""

    def _run(
        self, kg: KeyGen, mode: Mode, x: Any, seeds: Any, kind: str, args: list[Any]
    ) -> NDArray[np.int64]:
        ray = _ray()
        if not ray.is_initialized():
            raise InvalidArgument(
                "RayDistances needs a Ray session: use it inside fuzzykey.distributed.ray_session()"
            )
        if mode not in MODES:
            raise InvalidArgument(f"mode must be one of {MODES}, got {mode!r}")
        total = np.zeros(kg.binarizer(mode).n_bits + 1, dtype=np.int64)
        if not args:
            return total
        task = ray.remote(_histogram_task).options(num_cpus=self.cpus_per_task, max_retries=self.max_retries)
        recipe = KeyGenRecipe.of(kg)
        x_ref, seeds_ref = ray.put(np.ascontiguousarray(x, dtype=np.float32)), ray.put(seeds)
        pending = [task.remote(recipe, mode, kind, x_ref, seeds_ref, a) for a in args]
        self.tasks += len(pending)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            total += np.asarray(ray.get(done[0]), dtype=np.int64)
        return total

    def pair_histogram(
        self,
        kg: KeyGen,
        mode: Mode,
        x: NDArray[np.float32],
        pairs: NDArray[np.int64],
        seeds: NDArray[np.uint8] | None,
    ) -> NDArray[np.int64]:
        """:func:`~fuzzykey.evaluation.distances.pair_histogram`, one task per :func:`pair_shards` shard."""
        return self._run(kg, mode, x, seeds, "pairs", pair_shards(pairs, len(x), self.pairs_per_shard))

    def cross_person_histogram(
        self,
        kg: KeyGen,
        mode: Mode,
        x: NDArray[np.float32],
        labels: NDArray[np.int64],
        seeds: NDArray[np.uint8] | None,
    ) -> NDArray[np.int64]:
        """Every cross-person pair, one task per :func:`cross_person_shards` range of enrollees."""
        lab = np.asarray(labels, dtype=np.int64)
        shards = cross_person_shards(lab, self.pairs_per_shard)
        return self._run(kg, mode, x, seeds, "rows", [(lab, r) for r in shards])

    def sampled_histogram(
        self,
        kg: KeyGen,
        mode: Mode,
        x: NDArray[np.float32],
        labels: NDArray[np.int64],
        seeds: NDArray[np.uint8] | None,
        count: int,
        seed: int,
    ) -> NDArray[np.int64]:
        """:func:`~fuzzykey.evaluation.distances.sampled_histogram` of ``count`` pairs (billions are
        fine: each task draws its own shard), one task per shard."""
        lab = np.asarray(labels, dtype=np.int64)
        shards = sample_shards(int(count), self.pairs_per_shard)
        args = [(lab, int(count), int(seed), self.pairs_per_shard, s) for s in shards]
        return self._run(kg, mode, x, seeds, "sample", args)


# --------------------------------------------------------------------------- batch enrollment
class Opened(NamedTuple):
    """A sealed blob opened: the key, and the secret drawn for it (None in face-only mode)."""

    key: bytes
    secret: bytes | None


def _public_rsa(pem: bytes | str) -> Any:
    from Crypto.PublicKey import RSA

    try:
        key = RSA.import_key(pem)
    except (ValueError, IndexError, TypeError) as exc:
        raise InvalidArgument(f"recipient must be an RSA public key (PEM or DER): {exc}") from None
    if key.size_in_bits() < 2048:
        raise InvalidArgument(f"recipient RSA key must have >= 2048 bits, got {key.size_in_bits()}")
    return key.public_key()


def seal(recipient: bytes | str, *, key: bytes, secret: bytes | None, helper: bytes) -> bytes:
    """``key`` (and ``secret``) encrypted to the RSA public key ``recipient``, bound to ``helper``.

    Layout: ``FKS1`` | 2-byte length L | RSA-OAEP-SHA256(AES key), L bytes |
    12-byte nonce | 16-byte GCM tag | AES-256-GCM(payload), with SHA-256(helper)
    as associated data; payload = 1-byte secret length | secret | key.
    """
    from Crypto.Cipher import AES, PKCS1_OAEP
    from Crypto.Hash import SHA256

    rsa = _public_rsa(recipient)
    secret = secret or b""
    if len(secret) > 255:
        raise InvalidArgument(f"secret must be at most 255 bytes, got {len(secret)}")
    aes_key, nonce = os.urandom(32), os.urandom(12)
    wrapped = PKCS1_OAEP.new(rsa, hashAlgo=SHA256).encrypt(aes_key)
    cipher = AES.new(aes_key, AES.MODE_GCM, nonce=nonce)
    cipher.update(hashlib.sha256(helper).digest())
    body, tag = cipher.encrypt_and_digest(bytes([len(secret)]) + secret + key)
    return _SEAL_MAGIC + len(wrapped).to_bytes(2, "big") + wrapped + nonce + tag + body


def open_sealed(
    private_key: bytes | str, blob: bytes, *, helper: bytes, passphrase: str | None = None
) -> Opened:
    """The key and secret of a :func:`seal` blob; ``helper`` must be the row's helper.

    Raises:
        InvalidArgument: not a sealed blob, another recipient's, or another helper's.
    """
    from Crypto.Cipher import AES, PKCS1_OAEP
    from Crypto.Hash import SHA256
    from Crypto.PublicKey import RSA

    rsa = RSA.import_key(private_key, passphrase=passphrase)
    if not blob.startswith(_SEAL_MAGIC) or len(blob) < 6:
        raise InvalidArgument(f"not a sealed key: starts with {blob[:4]!r}, expected {_SEAL_MAGIC!r}")
    n = int.from_bytes(blob[4:6], "big")
    wrapped, nonce, tag, body = blob[6 : 6 + n], blob[6 + n : 18 + n], blob[18 + n : 34 + n], blob[34 + n :]
    try:
        aes_key = PKCS1_OAEP.new(rsa, hashAlgo=SHA256).decrypt(wrapped)
        cipher = AES.new(aes_key, AES.MODE_GCM, nonce=nonce)
        cipher.update(hashlib.sha256(helper).digest())
        payload = cipher.decrypt_and_verify(body, tag)
    except (ValueError, TypeError):
        raise InvalidArgument(
            "the sealed key does not open: another recipient's key, another helper, or damaged"
        ) from None
    k = payload[0]
    return Opened(key=payload[1 + k :], secret=payload[1 : 1 + k] if k else None)


class _Enroll:
    """The map_batches function of :func:`enroll_embeddings` (one KeyGen per worker process)."""

    def __init__(
        self,
        recipe: KeyGenRecipe,
        mode: KeyMode,
        recipient: bytes | None,
        id_column: str,
        embedding_column: str,
    ) -> None:
        self.kg = recipe.build()
        self.mode, self.recipient = mode, recipient
        self.id_column, self.embedding_column = id_column, embedding_column

    def __call__(self, batch: dict[str, NDArray[Any]]) -> dict[str, Any]:
        helpers: list[bytes | None] = []
        sealed: list[bytes | None] = []
        errors: list[str | None] = []
        for emb in batch[self.embedding_column]:
            secret = os.urandom(32) if self.mode != "face-only" else None
            try:
                emb_row = np.asarray(emb, dtype=np.float32)
                enrollment = self.kg.enroll_embedding(emb_row, secret=secret, mode=self.mode)
            except InvalidArgument as exc:
                helpers.append(None)
                sealed.append(None)
                errors.append(str(exc))
                continue
            key, helper = enrollment
            helpers.append(helper)
            sealed.append(
                seal(self.recipient, key=key, secret=secret, helper=helper)
                if self.recipient is not None
                else None
            )
            errors.append(None)
            del key, secret
        return {
            "id": batch[self.id_column],
            "helper": np.array(helpers, dtype=object),
            "sealed": np.array(sealed, dtype=object),
            "error": np.array(errors, dtype=object),
        }


@dataclass(frozen=True)
class EnrollSummary:
    """What :func:`enroll_embeddings` wrote."""

    path: str
    rows: int
    failed: int
    files: list[str] = field(default_factory=list)


def embeddings_dataset(path: str | os.PathLike[str]) -> Any:
    """An embeddings file's embedded rows as a Ray Dataset with columns ``id`` (the relative
    path) and ``embedding``: the input of :func:`enroll_embeddings`. Needs a Ray session."""
    _ray()
    import ray.data

    from .evaluation.embeddings_file import read_embeddings

    table = read_embeddings(path)
    ok = np.flatnonzero(table.ok)
    items = [{"id": table.paths[i], "embedding": table.embeddings[i]} for i in ok]
    return ray.data.from_items(items)


def enroll_embeddings(
    dataset: Any,
    out: str | os.PathLike[str],
    *,
    keygen: KeyGen | None = None,
    mode: KeyMode = "secret",
    recipient: bytes | str | None = None,
    id_column: str = "id",
    embedding_column: str = "embedding",
    batch_size: int = 256,
) -> EnrollSummary:
    """Enroll each row of a Ray Dataset (one person per row) and write the helpers as Parquet.

    ``dataset`` has an ``id_column`` (kept as is) and an ``embedding_column``
    (``dim`` floats). Each row becomes ``id``, ``helper`` (the public helper
    bytes), ``sealed`` (the key, and with a secret the secret drawn for the row,
    sealed to ``recipient``: :func:`seal`; null without a recipient) and
    ``error`` (a row whose embedding is rejected fails alone). Ray writes
    the rows to the folder ``out`` (one Parquet file per block). See the module
    docstring for what happens to secrets: none is accepted from the caller;
    the ``secret`` and ``two-factor`` modes, whose secrets are drawn on the
    workers, require ``recipient``. ``mode`` is :meth:`KeyGen.enroll_embedding
    <fuzzykey.KeyGen.enroll_embedding>`'s.
    """
    if mode not in KEY_MODES:
        raise InvalidArgument(f"mode must be one of {KEY_MODES}, got {mode!r}")
    pem: bytes | None = None
    if recipient is not None:
        pem = _public_rsa(recipient).export_key(format="DER")
    elif mode != "face-only":
        raise InvalidArgument(
            f"{mode} mode draws each row's secret on the worker; without a recipient to seal it to "
            "it would be lost: pass recipient=<RSA public key>"
        )
    if batch_size < 1:
        raise InvalidArgument(f"batch_size must be >= 1, got {batch_size}")
    recipe = KeyGenRecipe.of(keygen if keygen is not None else KeyGen())
    with ray_session():
        import ray.data

        with _data_context():
            rows = dataset.map_batches(
                _Enroll,
                fn_constructor_kwargs={
                    "recipe": recipe,
                    "mode": mode,
                    "recipient": pem,
                    "id_column": id_column,
                    "embedding_column": embedding_column,
                },
                batch_size=batch_size,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(min_size=1, max_size=_cluster_cpus()),
                num_cpus=1,
            )
            rows.write_parquet(str(out))
    files = sorted(str(p) for p in Path(out).glob("*.parquet")) if Path(out).is_dir() else []
    n = failed = 0
    if files:
        import pyarrow.parquet as pq

        for f in files:
            errors = pq.read_table(f, columns=["error"]).column("error")
            n += len(errors)
            failed += len(errors) - errors.null_count
    return EnrollSummary(str(out), n, failed, files)
