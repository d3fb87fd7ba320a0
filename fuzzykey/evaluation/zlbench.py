"""Zero-leakage face keys measured on a face set: FRR, every other person's photo as an attack, FRR over k.

:func:`measure_zero_leakage` gives the ``zero_leakage`` section of ``fuzzykey
bench`` (and the rows of ``benchmarks/zero_leakage.py``), for keys of
:class:`fuzzykey.facekeys.ZeroLeakageKeys`:

* genuine attempts (:func:`genuine_attempts`): with one enrollment photo, every
  same-person pair among a person's first ``first`` photos (enroll on the
  earlier photo); with m photos, photos 1..m enrolled and each later one of the
  first ``first`` probing;
* the dictionary attack (:func:`dictionary_keys`): every enrollment (a person's
  first photo, or first m photos) against every photo of every other person of
  the set, in two-factor mode with the enrollment's secret stolen (each
  enrollment its own secret and nonce);
* outcomes counted as reproduction decides them: a key comes out exactly when
  the maximum-likelihood codeword is the enrolled one and the gate accepts the
  probe against the enrolled bits (:func:`count_keys`). For the dictionary the
  gate's score is computed for every attempt first (cheap) and only attempts
  it accepts are decoded; a key needs both, so the count is exact;
* FRR for every code dimension k (:func:`frr_sweep`), the guesswork of an
  attacker ranking all 2^k codewords, and the leakage of the stored positions
  (:func:`fuzzykey.evaluation.attacks.guesswork_attack`,
  :func:`~fuzzykey.evaluation.attacks.position_leakage`);
* the unlinkability D<->sys of two helpers of one person (:func:`helper_linkability`).

A key that costs ~0.26 s of Argon2id per attempt cannot be tried millions of
times; ``benchmarks/zero_leakage.py`` checks on thousands of attempts that the
real path (Argon2id and the tag) agrees exactly with these counts.

Example:
    >>> import numpy as np
    >>> from fuzzykey.evaluation.zlbench import genuine_attempts, far_bound
    >>> a = genuine_attempts(np.array([0, 0, 0, 1, 1, 2]), photos=1)
    >>> a.enroll.ravel().tolist(), a.probe.tolist()
    ([0, 0, 1, 3], [1, 2, 2, 4])
    >>> round(far_bound(0, 1_000_000)["minus_log2_far_95"], 2)
    18.35
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InvalidArgument
from ..facekeys import ZeroLeakageKeys, unit_embeddings
from ..zeroleak import bit_llrs, verification_scores
from .attacks import guesswork_attack, position_leakage
from .linkability import dsys, zero_leakage_linkage_scores

__all__ = [
    "Attempts",
    "DictionaryKeys",
    "ROWS",
    "genuine_attempts",
    "enrollments",
    "count_keys",
    "dictionary_keys",
    "far_bound",
    "frr_sweep",
    "helper_linkability",
    "measure_zero_leakage",
]

ROWS: tuple[tuple[int, int], ...] = ((1, 16), (1, 20), (3, 20), (3, 24))
"""(enrollment photos, k) of the rows :func:`measure_zero_leakage` reports."""
_DECODE_BATCH = 65_536


@dataclass(frozen=True)
class Attempts:
    """Attempts as row indices into a set of embeddings: ``enroll`` (N, m), ``probe`` (N,)."""

    enroll: NDArray[np.int64]
    probe: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.probe)

    def groups(self) -> Iterator[tuple[NDArray[np.int64], NDArray[np.int64]]]:
        """(enrolled rows, attempt indices) per distinct enrollment, in first-seen order."""
        seen: dict[tuple[int, ...], list[int]] = {}
        for i, e in enumerate(self.enroll.tolist()):
            seen.setdefault(tuple(e), []).append(i)
        for e, rows in seen.items():
            yield np.array(e, dtype=np.int64), np.array(rows, dtype=np.int64)


def _people(labels: Any, first: int) -> list[NDArray[np.int64]]:
    lab = np.asarray(labels)
    if lab.ndim != 1:
        raise InvalidArgument(f"labels must be one-dimensional, got shape {lab.shape}")
    if isinstance(first, bool) or not isinstance(first, int) or first < 2:
        raise InvalidArgument(f"first must be an int >= 2, got {first!r}")
    return [np.flatnonzero(lab == p)[:first] for p in np.unique(lab)]


def _check_photos(photos: Any, first: int) -> int:
    if isinstance(photos, bool) or not isinstance(photos, int) or not 1 <= photos < first:
        raise InvalidArgument(f"photos must be an int from 1 to first - 1 = {first - 1}, got {photos!r}")
    return photos


def genuine_attempts(labels: Any, photos: int, *, first: int = 6) -> Attempts:
    """Same-person attempts among each person's first ``first`` photos (module docs)."""
    photos = _check_photos(photos, first)
    enroll: list[list[int]] = []
    probe: list[int] = []
    for mine in _people(labels, first):
        if photos == 1:
            for a in range(len(mine)):
                for b in range(a + 1, len(mine)):
                    enroll.append([int(mine[a])])
                    probe.append(int(mine[b]))
        elif len(mine) > photos:
            for b in range(photos, len(mine)):
                enroll.append([int(i) for i in mine[:photos]])
                probe.append(int(mine[b]))
    return Attempts(np.array(enroll, dtype=np.int64).reshape(-1, photos), np.array(probe, dtype=np.int64))


def enrollments(labels: Any, photos: int, *, first: int = 6) -> NDArray[np.int64]:
    """(E, photos): each person's first ``photos`` photos, for every person who has that many."""
    photos = _check_photos(photos, first)
    rows = [mine[:photos] for mine in _people(labels, first) if len(mine) >= photos]
    return np.array(rows, dtype=np.int64).reshape(-1, photos)


def _secrets(count: int, two_factor: bool, seed: int) -> list[tuple[bytes | None, bytes]]:
    """A secret and nonce per enrollment (two-factor), drawn from ``seed``; or none."""
    if not two_factor:
        return [(None, b"")] * count
    rng = np.random.default_rng(seed)
    return [(rng.bytes(32), rng.bytes(16)) for _ in range(count)]


def count_keys(
    zk: ZeroLeakageKeys,
    x: Any,
    attempts: Attempts,
    *,
    two_factor: bool = False,
    wrong_secret: bool = False,
    seed: int = 0,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Per attempt: (the decoder returned the enrolled codeword, and a key came out).

    ``two_factor``: each distinct enrollment gets its own secret and nonce (drawn from
    ``seed``) and the probe is tried with it, i.e. the secret is stolen; with
    ``wrong_secret`` too, the probe is tried with another secret instead.
    """
    if wrong_secret and not two_factor:
        raise InvalidArgument("wrong_secret needs two_factor")
    xs = unit_embeddings(x, zk.transform.dim, "embeddings")
    rows = np.concatenate([attempts.enroll.ravel(), attempts.probe])
    out_of_range = bool(len(rows)) and (rows.min() < 0 or rows.max() >= len(xs))
    if len(attempts.enroll) != len(attempts.probe) or out_of_range:
        raise InvalidArgument(
            f"attempts must pair (N, m) enrollment rows with N probe rows, all indices into the "
            f"{len(xs)} embeddings; got {attempts.enroll.shape} and {attempts.probe.shape}"
        )
    coords = zk.transform.apply(xs)
    groups = list(attempts.groups())
    wrong = _secrets(len(groups), wrong_secret, seed + 1)
    llrs = np.zeros((len(attempts), zk.code.n), np.float32)
    scores = np.zeros(len(attempts))
    for (e, rows), (secret, nonce), (other, _) in zip(
        groups, _secrets(len(groups), two_factor, seed), wrong, strict=True
    ):
        bits, pos, m = zk.enroll_state(xs[e], secret=secret, nonce=nonce)
        tried = other if wrong_secret else secret
        y, rho, dither = zk.probe_coords(coords[attempts.probe[rows]], m, secret=tried, nonce=nonce)
        llrs[rows] = bit_llrs(y, pos, rho, dither) * (1.0 - 2.0 * bits)  # success = message 0
        scores[rows] = verification_scores(y, np.broadcast_to(bits, y.shape), pos, rho, dither)
    decoded = np.zeros(len(attempts), dtype=bool)
    for start in range(0, len(attempts), _DECODE_BATCH):
        msgs, _ = zk.code.ml_decode_batch(llrs[start : start + _DECODE_BATCH])
        decoded[start : start + _DECODE_BATCH] = ~msgs.any(axis=1)
    return decoded, decoded & (scores >= zk.gate)


@dataclass(frozen=True)
class DictionaryKeys:
    """Outcome of :func:`dictionary_keys`."""

    attempts: int
    gate_passed: int
    """Attempts whose probe the gate accepted against the enrolled bits (then decoded)."""
    keys: int
    hits: list[tuple[int, int]] = field(default_factory=list)
    """(first enrolled row, probe row) of every attempt that gave the key."""


def dictionary_keys(
    zk: ZeroLeakageKeys,
    x: Any,
    labels: Any,
    enroll: NDArray[np.int64],
    *,
    two_factor: bool = False,
    seed: int = 0,
) -> DictionaryKeys:
    """Every enrollment of ``enroll`` (E, m) against every photo of every other person in ``x``.

    Exact key counts without decoding millions of words: a key needs the gate to
    accept the probe against the enrolled bits, which costs a dot product; only
    those attempts are decoded. ``two_factor``: each enrollment its own secret and
    nonce (from ``seed``), which the attacker holds.
    """
    xs = unit_embeddings(x, zk.transform.dim, "embeddings")
    lab = np.asarray(labels)
    if lab.shape != (len(xs),):
        raise InvalidArgument(f"labels must have one entry per embedding ({len(xs)}), got shape {lab.shape}")
    e_rows = np.asarray(enroll, dtype=np.int64)
    if e_rows.ndim != 2 or not e_rows.size or e_rows.min() < 0 or e_rows.max() >= len(xs):
        raise InvalidArgument(f"enroll must be (E, m) row indices into the {len(xs)} embeddings")
    coords = zk.transform.apply(xs)
    attempts = gate_passed = 0
    pending: list[tuple[NDArray[np.float32], int, NDArray[np.int64]]] = []
    for e, (secret, nonce) in zip(e_rows, _secrets(len(e_rows), two_factor, seed), strict=True):
        bits, pos, m = zk.enroll_state(xs[e], secret=secret, nonce=nonce)
        others = np.flatnonzero(lab != lab[e[0]])
        attempts += len(others)
        y, rho, dither = zk.probe_coords(coords[others], m, secret=secret, nonce=nonce)
        s = verification_scores(y, np.broadcast_to(bits, y.shape), pos, rho, dither)
        ok = s >= zk.gate
        if ok.any():
            gate_passed += int(ok.sum())
            llr = bit_llrs(y[ok], pos, rho, dither) * (1.0 - 2.0 * bits)
            pending.append((llr.astype(np.float32), int(e[0]), others[ok]))
    hits: list[tuple[int, int]] = []
    batch: list[tuple[NDArray[np.float32], int, NDArray[np.int64]]] = []
    size = 0
    for item in [*pending, None]:
        if item is not None:
            batch.append(item)
            size += len(item[0])
        if batch and (item is None or size >= _DECODE_BATCH):
            msgs, _ = zk.code.ml_decode_batch(np.concatenate([b[0] for b in batch]))
            ok_words = ~msgs.any(axis=1)
            at = 0
            for llr, first_row, probes in batch:
                hits += [(first_row, int(p)) for p in probes[ok_words[at : at + len(llr)]]]
                at += len(llr)
            batch, size = [], 0
    return DictionaryKeys(attempts, gate_passed, len(hits), hits)


def far_bound(keys: int, attempts: int) -> dict[str, Any]:
    """Keys among attempts, the FAR and a 95 % bound on -log2 FAR.

    0 keys: the rule of three, FAR < 3/N; otherwise a rough upper bound
    :math:`(x + 2\\sqrt{x} + 2)/N` (Poisson, about 95 % for small x).
    """
    if attempts < 1 or keys < 0 or keys > attempts:
        raise InvalidArgument(f"need 0 <= keys <= attempts and attempts >= 1, got {keys} and {attempts}")
    upper = 3.0 / attempts if keys == 0 else min(1.0, (keys + 2.0 * math.sqrt(keys) + 2) / attempts)
    return {
        "keys": keys,
        "attempts": attempts,
        "far": keys / attempts,
        "minus_log2_far_95": -math.log2(upper),
        "rule": "0 keys: rule of three; else (x + 2 sqrt(x) + 2) / N",
    }


def frr_sweep(
    x: Any, labels: Any, *, ks: Sequence[int] = tuple(range(15, 25)), photos: Sequence[int] = (1, 3),
    first: int = 6, zk_for: Any = None,
) -> dict[str, dict[str, float | None]]:
    """Face-only FRR (decoder and gate) for every k and number of enrollment photos:
    ``{photos: {k: frr}}`` (string keys, as in JSON; None where nobody has enough photos).
    ``zk_for(k)`` makes the pipeline (default ``ZeroLeakageKeys(k=k)``)."""
    make = zk_for if zk_for is not None else (lambda k: ZeroLeakageKeys(k=k))
    out: dict[str, dict[str, float | None]] = {}
    for m in photos:
        genuine = genuine_attempts(labels, m, first=first)
        out[str(m)] = {}
        for k in ks:
            _, keys = count_keys(make(k), x, genuine)
            out[str(m)][str(k)] = float(1.0 - keys.mean()) if len(keys) else None
    return out


def measure_zero_leakage(
    x: Any,
    labels: Any,
    *,
    population: Any = None,
    rows: Sequence[tuple[int, int]] = ROWS,
    first: int = 6,
    guesswork_helpers: int = 300,
    sweep: bool = True,
    seed: int = 0,
    zk_for: Any = None,
    names: Sequence[str] | None = None,
    link_non_mated: int = 5000,
) -> dict[str, Any]:
    """The zero-leakage figures of a face set (module docs), as a JSON-ready dict.

    Args:
        x, labels: the measured people's embeddings (N, dim) and person labels (N,).
        population: embeddings the guesswork attacker models the population with (default
            ``x`` itself, which favours the attacker).
        rows: (photos, k) pairs measured, each face-only and two-factor with the secret stolen.
        first: photos per person used for genuine attempts.
        guesswork_helpers: helpers (first photos) attacked by ranking (k = 16, one photo).
        sweep: also the face-only FRR for k = 15..24 and 1 and 3 photos.
        seed: secrets, nonces, messages and the attacked helpers.
        zk_for: ``zk_for(k)`` makes the pipeline (default ``ZeroLeakageKeys(k=k)``).
        names: person names by label, to name the impostor pairs that gave keys.
        link_non_mated: non-mated helper pairs drawn for the linkability (:func:`helper_linkability`).
    """
    make = zk_for if zk_for is not None else (lambda k: ZeroLeakageKeys(k=k))
    one = make(16)
    xs = unit_embeddings(x, one.transform.dim, "embeddings")
    lab = np.asarray(labels)
    out_rows: list[dict[str, Any]] = []
    for photos, k in rows:
        zk = make(k)
        genuine = genuine_attempts(lab, photos, first=first)
        enroll = enrollments(lab, photos, first=first)
        for two_factor in (False, True):
            dec, keys = count_keys(zk, xs, genuine, two_factor=two_factor, seed=seed + k)
            d = dictionary_keys(zk, xs, lab, enroll, two_factor=two_factor, seed=seed + 1000 + k)
            row: dict[str, Any] = {
                "photos": photos,
                "k": k,
                "mode": "two-factor, secret stolen" if two_factor else "face-only",
                "genuine": len(genuine),
                "frr_decoder": float(1.0 - dec.mean()) if len(dec) else None,
                "frr": float(1.0 - keys.mean()) if len(keys) else None,
                "enrollments": len(enroll),
                "gate_passed": d.gate_passed,
                "impostor": far_bound(d.keys, d.attempts) if d.attempts else None,
            }
            if names is not None:
                row["impostor_key_pairs"] = [[names[int(lab[a])], names[int(lab[b])]] for a, b in d.hits]
            out_rows.append(row)
    firsts = enrollments(lab, 1, first=first)[:, 0]
    rng = np.random.default_rng(seed)
    attacked = rng.choice(firsts, min(guesswork_helpers, len(firsts)), replace=False)
    pop = unit_embeddings(population, one.transform.dim, "population") if population is not None else xs
    guess: dict[str, Any] = {}
    stolen: list[bytes | None] = [rng.bytes(32) for _ in attacked]
    for mode, secrets in (("face-only", None), ("two-factor, secret stolen", stolen)):
        result = guesswork_attack(one, [xs[i] for i in attacked], pop, secrets=secrets, seed=seed)
        guess[mode] = result.summary()
    wrong = _wrong_secret(one, xs, lab, first, seed)
    doc: dict[str, Any] = {
        "pipeline": {"transform": repr(one.transform), "gate": one.gate, "kdf": repr(one.extractor.kdf)},
        "people": int(len(np.unique(lab))),
        "images": len(xs),
        "rows": out_rows,
        "guesswork": guess,
        "leakage": position_leakage(one, [xs[i] for i in firsts]).summary(),
        "wrong_secret": wrong,
        "linkability": helper_linkability(xs, lab, non_mated=link_non_mated, seed=seed, first=first),
    }
    if sweep:
        doc["sweep"] = frr_sweep(xs, lab, first=first, zk_for=make)
    return doc


def _wrong_secret(
    zk: ZeroLeakageKeys, x: NDArray[np.float64], labels: Any, first: int, seed: int
) -> dict[str, Any]:
    """Two-factor helpers tried with the enrollee's own later photos and a wrong secret."""
    genuine = genuine_attempts(labels, 1, first=first)
    decoded, keys = count_keys(zk, x, genuine, two_factor=True, wrong_secret=True, seed=seed + 7)
    return {
        "attempts": len(genuine),
        "decoded": int(decoded.sum()),
        "keys": int(keys.sum()),
        "means": "each person's own later photos against their two-factor helper, with a wrong secret",
    }


def helper_linkability(
    x: Any, labels: Any, *, non_mated: int = 5000, seed: int = 0, first: int = 6, bins: int = 20
) -> dict[str, Any]:
    """D<->sys of zero-leakage helpers: each person's photos 1 and 2 enrolled separately (mated
    pairs) against two different people's first photos (non-mated), face-only, two-factor (the
    attacker lacks the secrets) and two-factor with both secrets stolen
    (:func:`fuzzykey.evaluation.linkability.zero_leakage_linkage_scores`, then
    :func:`~fuzzykey.evaluation.linkability.dsys`). The helpers are made with a cheap Argon2id:
    the KDF cost changes none of the public fields the attack reads. Two-factor helpers draw
    their nonce from :func:`os.urandom`, as enrollment must, so their figures vary a little
    from run to run; the face-only one does not."""
    from ..kdf import Argon2id

    zk = ZeroLeakageKeys(kdf=Argon2id(1, 64, 1))
    xs = unit_embeddings(x, zk.transform.dim, "embeddings")
    lab = np.asarray(labels)
    rng = np.random.default_rng(seed + 11)
    people = _people(lab, first)
    mated = [(int(m[0]), int(m[1])) for m in people if len(m) >= 2]
    singles = np.array([int(m[0]) for m in people])
    drawn = rng.choice(singles, (non_mated, 2)) if len(singles) >= 2 else np.empty((0, 2), np.int64)
    non = [(int(a), int(b)) for a, b in drawn if lab[a] != lab[b]]
    out: dict[str, Any] = {"mated": len(mated), "non_mated": len(non), "bins": bins}
    for mode in ("face-only", "two-factor", "two-factor, secrets stolen"):
        if not mated or not non:
            out[mode] = None
            continue
        scores = []
        for group in (mated, non):
            sec = [(rng.bytes(32), rng.bytes(32)) if mode != "face-only" else (None, None) for _ in group]
            ha = [zk.enroll_embedding(xs[a], secret=s[0])[1] for (a, _), s in zip(group, sec, strict=True)]
            hb = [zk.enroll_embedding(xs[b], secret=s[1])[1] for (_, b), s in zip(group, sec, strict=True)]
            stolen = mode == "two-factor, secrets stolen"
            scores.append(zero_leakage_linkage_scores(
                zk, ha, hb, secrets_a=[s[0] for s in sec] if stolen else None,
                secrets_b=[s[1] for s in sec] if stolen else None))
        out[mode] = dsys(scores[0], scores[1], bins=bins)
    return out
