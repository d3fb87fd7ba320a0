"""Zero-leakage quantization, its codes, the discriminant transform and ZeroLeakageKeys."""

from __future__ import annotations

import base64
import dataclasses
import json

import galois
import numpy as np
import pytest
from scipy import special, stats

from fuzzykey import BCHCode, InvalidArgument, InvalidHelperData, KeyMismatch, PipelineMismatch
from fuzzykey.discriminant import DiscriminantTransform, sface_discriminant
from fuzzykey.facekeys import ZeroLeakageKeys, read_zero_leakage_header
from fuzzykey.helper import HelperData
from fuzzykey.kdf import Argon2id
from fuzzykey.zeroleak import (
    SecretTransform,
    bit_llrs,
    candidates,
    phi,
    phi_inv,
    quantize,
    verification_scores,
    zero_leakage_code,
)

CHEAP = Argon2id(1, 64, 1)


def gf2_rank(m: np.ndarray) -> int:
    return int(np.linalg.matrix_rank(galois.GF2(m.astype(np.uint8))))


# -- the normal CDF and quantile against scipy ----------------------------------------
def test_phi_and_phi_inv_match_scipy() -> None:
    x = np.linspace(-8, 8, 2001)
    np.testing.assert_allclose(phi(x), special.ndtr(x), rtol=1e-13, atol=1e-300)
    p = np.random.default_rng(0).uniform(2.0**-18, 1 - 2.0**-18, 50_000)
    np.testing.assert_allclose(phi_inv(p), special.ndtri(p), atol=1e-11)
    with pytest.raises(InvalidArgument, match="strictly between 0 and 1"):
        phi_inv(np.array([0.0]))


# -- quantization -----------------------------------------------------------------------
def test_positions_are_uniform_and_independent_of_the_bits() -> None:
    z = np.random.default_rng(1).standard_normal(200_000)
    bits, pos = quantize(z)
    assert bits.dtype == np.uint8 and pos.dtype == np.uint16
    np.testing.assert_array_equal(bits, (z > 0).astype(np.uint8))
    assert abs(bits.mean() - 0.5) < 0.005
    u = (pos + 0.5) / 65536
    for b in (0, 1):  # the same uniform law given either bit
        assert stats.kstest(u[bits == b], "uniform").pvalue > 1e-3


def test_candidates_recover_the_enrolled_value() -> None:
    z = np.random.default_rng(2).standard_normal(1000) * 1.5
    for dither in (None, np.random.default_rng(3).uniform(0, 1, 1000)):
        bits, pos = quantize(z, dither)
        z0, z1 = candidates(pos, dither)
        back = np.where(bits == 1, z1, z0)
        # 16-bit positions: the reconstruction is within the quantization step of Phi (mod 1 with a dither)
        gap = np.abs(special.ndtr(back) - special.ndtr(z))
        assert np.minimum(gap, 1 - gap).max() <= 2.0**-16


def test_llrs_are_the_gaussian_likelihood_ratio() -> None:
    rng = np.random.default_rng(4)
    z, y = rng.standard_normal(50), rng.standard_normal(50)
    rho = rng.uniform(0.1, 0.95, 50)
    _, pos = quantize(z)
    z0, z1 = candidates(pos)
    ref = stats.norm.logpdf(y, rho * z0, np.sqrt(1 - rho**2)) - stats.norm.logpdf(
        y, rho * z1, np.sqrt(1 - rho**2)
    )
    np.testing.assert_allclose(bit_llrs(y, pos, rho), ref, rtol=1e-5, atol=1e-5)
    bits = rng.integers(0, 2, (3, 50)).astype(np.uint8)
    zb = np.where(bits == 1, z1, z0)
    ref_s = (stats.norm.logpdf(y, rho * zb, np.sqrt(1 - rho**2)) - stats.norm.logpdf(y)).sum(axis=1)
    np.testing.assert_allclose(
        verification_scores(np.broadcast_to(y, (3, 50)), bits, pos, rho), ref_s, rtol=1e-10
    )


def test_quantize_rejects_non_finite_and_bad_positions() -> None:
    with pytest.raises(InvalidArgument, match="finite"):
        quantize(np.array([0.0, np.nan]))
    with pytest.raises(InvalidArgument, match="uint16"):
        candidates(np.array([1, 2], dtype=np.int64))


def test_secret_transform_is_a_signed_permutation_fixed_by_secret_and_nonce() -> None:
    a = SecretTransform.derive(b"s" * 32, b"n" * 16, 128)
    assert sorted(a.perm.tolist()) == list(range(128))
    assert set(np.unique(a.signs).tolist()) == {-1.0, 1.0}
    assert ((a.dither >= 0) & (a.dither < 1)).all()
    b = SecretTransform.derive(b"s" * 32, b"m" * 16, 128)
    assert not np.array_equal(a.perm, b.perm)
    z = np.arange(128.0)
    np.testing.assert_array_equal(np.abs(a.transform(z)), z[a.perm])
    assert "s" * 8 not in repr(a)


# -- the codes ----------------------------------------------------------------------------
def cyclic_rows(t: int) -> tuple[np.ndarray, int]:
    """Shifts of BCH(127, t)'s generator polynomial g(x), after checking with galois that g(x)
    has the roots alpha^1 .. alpha^2t in GF(2^7) built on the core's primitive polynomial."""
    bch = BCHCode(7, t)
    g = bch.generator  # lowest degree first
    gf = galois.GF(2**7, irreducible_poly=galois.Poly.Int(bch.primitive_poly))
    poly = galois.Poly(g[::-1].tolist(), field=gf)
    alpha = gf.primitive_element if int(gf.primitive_element) == 2 else gf(2)
    assert all(int(poly(alpha**i)) == 0 for i in range(1, 2 * t + 1))
    k = 127 - (len(g) - 1)
    rows = np.zeros((k, 127), np.uint8)
    for i in range(k):
        rows[i, i : i + len(g)] = g
    return rows, k


@pytest.mark.parametrize("k", [15, 16, 20, 24])
def test_codes_are_nested_bch_codes_extended_by_parity(k: int) -> None:
    code = zero_leakage_code(k)
    assert (code.n, code.k) == (128, k)
    G = code.generator
    assert not (G.sum(axis=1) % 2).any()  # every row has even weight: the parity bit
    inner, k_inner = cyclic_rows(27)
    assert k_inner == 15 and gf2_rank(np.vstack([G[:15, :127], inner])) == 15
    outer, k_outer = cyclic_rows(23 if k <= 22 else 21)
    assert gf2_rank(np.vstack([G[:, :127], outer])) == k_outer  # inside the larger BCH code


def test_k16_minimum_distance_is_48() -> None:
    code = zero_leakage_code(16)
    msgs = ((np.arange(1, 1 << 16)[:, None] >> np.arange(16)) & 1).astype(np.uint8)
    assert int(code.encode_batch(msgs).sum(axis=1).min()) == 48


def test_code_k_out_of_range() -> None:
    with pytest.raises(InvalidArgument, match="between 15 and 24, got 25"):
        zero_leakage_code(25)


# -- the transform ---------------------------------------------------------------------------
def synthetic(
    rng: np.random.Generator, people: int, photos: int, dim: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    centres = rng.standard_normal((people, dim))
    labels = np.repeat(np.arange(people), photos)
    x = centres[labels] + 0.6 * rng.standard_normal((people * photos, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels


def test_fit_whitens_and_orders_by_genuine_correlation() -> None:
    x, labels = synthetic(np.random.default_rng(5), 400, 5)
    t = DiscriminantTransform.fit(x, labels, shrink=0.0, cap=5)
    z = t.apply(x)
    means = np.stack([z[labels == p].mean(axis=0) for p in range(400)])
    dev = z - means[labels]
    within = dev.T @ dev / (len(z) - 400)
    between = np.cov(means.T, bias=True) - within / 5
    np.testing.assert_allclose(within + between, np.eye(16), atol=1e-8)  # whitened total
    np.testing.assert_allclose(np.diag(within), 1 - t.rho, atol=1e-8)
    assert np.all(np.diff(t.rho) <= 1e-12)


def test_transform_json_round_trip_and_digest_check() -> None:
    x, labels = synthetic(np.random.default_rng(6), 50, 3)
    t = DiscriminantTransform.fit(x, labels, provenance={"gate": 1.5})
    back = DiscriminantTransform.from_json(t.to_json())
    assert back.digest == t.digest and back.provenance == {"gate": 1.5}
    doc = json.loads(t.to_json())
    doc["rho"][0] *= 0.5
    with pytest.raises(InvalidArgument, match="does not match its numbers"):
        DiscriminantTransform.from_json(json.dumps(doc))
    with pytest.raises(InvalidArgument, match="at least two people"):
        DiscriminantTransform.fit(x[:1], labels[:1])
    with pytest.raises(InvalidArgument, match="rho_scale"):
        DiscriminantTransform(t.mean, t.matrix, t.rho, rho_scale=1.5)


def test_shipped_sface_transform() -> None:
    t = sface_discriminant()
    assert (t.dim, t.n_coords) == (128, 128)
    assert t.provenance["images_half_a"] > 4000 and np.isfinite(t.provenance["gate"])
    assert 0.6 < t.rho[0] < 1 and t.rho[-1] >= 0


# -- keys -------------------------------------------------------------------------------------
def person(
    zk: ZeroLeakageKeys, rng: np.random.Generator, noise: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """An enrollment embedding and a probe drawn from the genuine model (noise 0: the same photo)."""
    t = zk.transform
    pinv = np.linalg.pinv(t.matrix)
    z = rng.standard_normal(t.n_coords)
    r = t.rho_for(1)
    zp = r * z + noise * np.sqrt(1 - r * r) * rng.standard_normal(t.n_coords)
    return pinv @ z + t.mean, pinv @ zp + t.mean


@pytest.mark.parametrize("secret", [None, b"d" * 32])
def test_enroll_and_reproduce(secret: bytes | None) -> None:
    zk = ZeroLeakageKeys(kdf=CHEAP)
    rng = np.random.default_rng(7)
    enrol, probe = person(zk, rng, noise=0.5)
    key, helper = zk.enroll_embedding(enrol, secret=secret)
    assert zk.reproduce_embedding(probe, helper, secret=secret) == key
    other, _ = person(zk, rng)
    with pytest.raises(KeyMismatch):
        zk.reproduce_embedding(other, helper, secret=secret)
    h, header = read_zero_leakage_header(helper, 128)
    assert header.mode == ("two-factor" if secret else "face-only") and h.code_kind == "linear"
    assert h.kdf == CHEAP
    if secret is not None:
        with pytest.raises(KeyMismatch):
            zk.reproduce_embedding(probe, helper, secret=b"e" * 32)
        with pytest.raises(PipelineMismatch, match="two-factor"):
            zk.reproduce_embedding(probe, helper)
    else:
        with pytest.raises(PipelineMismatch, match="face-only"):
            zk.reproduce_embedding(probe, helper, secret=b"e" * 32)


def test_several_photos_and_batch_reproduction() -> None:
    zk = ZeroLeakageKeys(kdf=CHEAP, k=20)
    rng = np.random.default_rng(8)
    enrol, probe = person(zk, rng, noise=0.4)
    photos = np.stack([enrol, enrol + 1e-3 * rng.standard_normal(128), enrol])
    key, helper = zk.enroll_embedding(photos)
    assert read_zero_leakage_header(helper, 128)[1].photos == 3
    other, _ = person(zk, rng)
    assert zk.reproduce_embeddings(np.stack([probe, other]), helper) == [key, None]


def test_the_gate_refuses_a_probe_that_decodes_but_is_not_the_person() -> None:
    zk = ZeroLeakageKeys(kdf=CHEAP)
    rng = np.random.default_rng(9)
    enrol, probe = person(zk, rng, noise=0.3)
    key, helper = zk.enroll_embedding(enrol)
    strict = ZeroLeakageKeys(kdf=CHEAP, gate=1e9)
    assert zk.reproduce_embedding(probe, helper) == key
    # the same helper under a gate nobody passes: PipelineMismatch (the gate is recorded)
    with pytest.raises(PipelineMismatch, match="gate"):
        strict.reproduce_embedding(probe, helper)
    _, helper2 = strict.enroll_embedding(enrol)
    with pytest.raises(KeyMismatch):
        strict.reproduce_embedding(probe, helper2)


def test_helper_header_tampering_is_refused() -> None:
    zk = ZeroLeakageKeys(kdf=CHEAP)
    rng = np.random.default_rng(10)
    enrol, probe = person(zk, rng, noise=0.3)
    _, helper = zk.enroll_embedding(enrol)
    h = HelperData.from_bytes(helper)
    doc = json.loads(h.metadata)

    def forge(**change: object) -> bytes:
        meta = json.dumps(dict(doc, **change), sort_keys=True, separators=(",", ":")).encode()
        return dataclasses.replace(h, metadata=meta).to_bytes()

    for change in (
        {"images": 0},
        {"images": 65},
        {"positions": doc["positions"][:-4]},
        {"gate": "x"},
        {"mode": "secret"},
        {"nonce": "00" * 16},
        {"version": 2},
        {"positions": "*" * 344},
    ):
        with pytest.raises(InvalidHelperData):
            zk.reproduce_embedding(probe, forge(**change))
    # a position changed within the format: parsed, then the tag refuses it
    pos = read_zero_leakage_header(helper, 128)[1].positions.copy()
    pos[0] ^= 1
    with pytest.raises(KeyMismatch):
        zk.reproduce_embedding(probe, forge(positions=base64.b64encode(pos.astype("<u2").tobytes()).decode()))
    assert zk.reproduce_embedding(probe, forge()) is not None


def test_inputs_are_checked() -> None:
    zk = ZeroLeakageKeys(kdf=CHEAP)
    with pytest.raises(InvalidArgument, match="shape"):
        zk.enroll_embedding(np.zeros(7))
    with pytest.raises(InvalidArgument, match="finite"):
        zk.enroll_embedding(np.full(128, np.nan))
    with pytest.raises(InvalidArgument, match="all-zero"):
        zk.enroll_embedding(np.zeros(128))
    with pytest.raises(InvalidArgument, match="at least 16 bytes"):
        zk.enroll_embedding(np.ones(128), secret=b"short")
    with pytest.raises(InvalidArgument, match="between 15 and 24"):
        ZeroLeakageKeys(k=12)
    assert "secret" not in repr(zk)


# -- linkability of zero-leakage helpers ---------------------------------------------------
def test_linkage_scores_separate_one_person_from_two_and_the_secret_hides_it() -> None:
    from fuzzykey.evaluation.linkability import dsys, zero_leakage_linkage_scores

    zk = ZeroLeakageKeys(kdf=CHEAP)
    t = zk.transform
    pinv = np.linalg.pinv(t.matrix)
    rng = np.random.default_rng(12)
    r = t.rho * t.rho_scale

    def photo(latent: np.ndarray) -> np.ndarray:  # a photo: person latent + noise, unit variance
        return pinv @ (np.sqrt(r) * latent + np.sqrt(1 - r) * rng.standard_normal(128)) + t.mean

    people = rng.standard_normal((60, 128))
    first = [photo(p) for p in people]
    second = [photo(p) for p in people]
    secrets = [rng.bytes(32) for _ in range(120)]
    for mode in ("face-only", "two-factor"):
        sec = secrets if mode == "two-factor" else [None] * 120
        ha = [zk.enroll_embedding(e, secret=s)[1] for e, s in zip(first, sec[:60], strict=True)]
        hb = [zk.enroll_embedding(e, secret=s)[1] for e, s in zip(second, sec[60:], strict=True)]
        other = np.roll(np.arange(60), 1)
        hb_other = [hb[i] for i in other]
        mated = zero_leakage_linkage_scores(zk, ha, hb)
        non = zero_leakage_linkage_scores(zk, ha, hb_other)
        if mode == "face-only":
            assert np.median(mated) > np.max(non)  # linkable: a face-only helper is tied to its face
            assert dsys(mated, non, bins=10) > 0.8
        else:  # without the secrets the positions are a fresh dither of the face
            assert dsys(mated, non, bins=10) < 0.5
            stolen_m = zero_leakage_linkage_scores(zk, ha, hb, secrets_a=sec[:60], secrets_b=sec[60:])
            stolen_n = zero_leakage_linkage_scores(
                zk, ha, hb_other, secrets_a=sec[:60], secrets_b=[sec[60 + i] for i in other]
            )
            assert np.median(stolen_m) > np.quantile(stolen_n, 0.9)  # with both secrets: linkable again
