"""The CUDA kernels on a GPU, against the CPU core they must agree with.

These tests need a CUDA build of fuzzykey and a GPU. They are not part of the
default suite (``pytest`` collects ``tests/`` only; CI machines have no GPU):
run them with ``bash .ci/gpu`` on a machine that has one. Without a GPU they
fail (``conftest.py``) rather than skip, so a green run means they ran.

Each kernel is checked against the CPU path of the same public function:
bit-identical where the computation is exact (packing, Hamming distances,
threshold comparison of a given product, ML decoding) and to float rounding
where it is not (sphere samples: the same Philox stream, normalized by
different sqrt implementations).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fuzzykey import InvalidArgument, LinearCode, ops

DEV = torch.device("cuda")


def random_bits(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.integers(0, 2, size=shape, dtype=np.uint8)


def full_rank_code(rng: np.random.Generator, k: int, n: int) -> LinearCode:
    """A random (k, n) generator with an identity block, so it is full rank."""
    G = random_bits(rng, k, n)
    G[:, :k] = np.eye(k, dtype=np.uint8)
    return LinearCode(G[:, rng.permutation(n)])


def test_the_build_has_kernels_and_sees_a_gpu() -> None:
    assert ops.cuda_built()
    assert torch.cuda.is_available() and torch.cuda.device_count() >= 1


# -- packing --------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 7, 63, 64, 65, 128, 130, 1000])
@pytest.mark.parametrize("lead", [(0,), (1,), (257,), (3, 5)])
def test_pack_and_unpack_match_the_cpu(n: int, lead: tuple[int, ...]) -> None:
    rng = np.random.default_rng(n * 31 + len(lead))
    bits = random_bits(rng, *lead, n)
    cpu = ops.pack_bits(bits)
    for src in (torch.from_numpy(bits).to(DEV), torch.from_numpy(bits.astype(bool)).to(DEV)):
        words = ops.pack_bits(src)
        assert words.is_cuda and words.dtype == torch.uint64 and tuple(words.shape) == cpu.shape
        np.testing.assert_array_equal(words.cpu().numpy(), cpu)
        back = ops.unpack_bits(words, n)
        assert back.is_cuda and back.dtype == torch.uint8
        np.testing.assert_array_equal(back.cpu().numpy(), bits)


def test_pack_of_a_non_contiguous_view() -> None:
    bits = random_bits(np.random.default_rng(2), 100, 200)
    view = torch.from_numpy(bits).to(DEV)[::3, 5:150]
    np.testing.assert_array_equal(ops.pack_bits(view).cpu().numpy(), ops.pack_bits(bits[::3, 5:150]))


def test_pack_rejects_values_above_one_on_the_gpu() -> None:
    x = torch.zeros((2, 70), dtype=torch.uint8, device=DEV)
    x[1, 3] = 2
    with pytest.raises(InvalidArgument, match="only 0 and 1, found 2"):
        ops.pack_bits(x)


# -- binarization ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("with_thresholds", [False, True])
def test_binarize_is_the_sign_of_the_gpu_product(dtype: torch.dtype, with_thresholds: bool) -> None:
    g = torch.Generator(device="cpu").manual_seed(3)
    N, d, n = 5000, 128, 300  # N * n is over one block of rows, so the loop runs
    x = torch.randn((N, d), generator=g, dtype=dtype).to(DEV)
    p = torch.randn((d, n), generator=g, dtype=dtype).to(DEV)
    t = torch.randn((n,), generator=g, dtype=dtype).to(DEV) if with_thresholds else None
    words = ops.binarize(x, p, t)
    assert words.is_cuda and tuple(words.shape) == (N, ops.words_for(n))
    y = x @ p  # the same product on the same device: the comparison must be exact
    expected = (y > (t if t is not None else 0)).to(torch.uint8)
    np.testing.assert_array_equal(ops.unpack_bits(words, n).cpu().numpy(), expected.cpu().numpy())
    # and against the CPU path: only signs within rounding of zero may differ
    cpu = ops.unpack_bits(ops.binarize(x.cpu().numpy(), p.cpu().numpy(),
                                       None if t is None else t.cpu().numpy()), n)
    differ = cpu != expected.cpu().numpy()
    margin = (y - (t if t is not None else 0)).abs().cpu().numpy()
    assert np.all(margin[differ] < 1e-3), margin[differ].max()


def test_binarize_rejects_nan_on_the_gpu() -> None:
    x = torch.zeros((4, 8), device=DEV)
    x[2, 1] = float("nan")
    with pytest.raises(InvalidArgument, match="NaN"):
        ops.binarize(x, torch.ones((8, 16), device=DEV))


# -- Hamming distances ----------------------------------------------------------------
@pytest.mark.parametrize("Q,G,W", [(1, 1, 1), (17, 300, 2), (200, 1000, 4), (3, 5, 16), (0, 4, 2), (4, 0, 2)])
def test_hamming_matches_the_cpu(Q: int, G: int, W: int) -> None:
    rng = np.random.default_rng(Q + G + W)
    q = rng.integers(0, 2**64, size=(Q, W), dtype=np.uint64)
    g = rng.integers(0, 2**64, size=(G, W), dtype=np.uint64)
    out = ops.hamming(torch.from_numpy(q).to(DEV), torch.from_numpy(g).to(DEV))
    assert out.is_cuda and out.dtype == torch.int32
    np.testing.assert_array_equal(out.cpu().numpy(), ops.hamming(q, g))


def test_hamming_over_more_queries_than_one_grid_dimension() -> None:
    rng = np.random.default_rng(4)
    q = rng.integers(0, 2**64, size=(70_000, 2), dtype=np.uint64)
    g = rng.integers(0, 2**64, size=(9, 2), dtype=np.uint64)
    out = ops.hamming(torch.from_numpy(q).to(DEV), torch.from_numpy(g).to(DEV))
    np.testing.assert_array_equal(out.cpu().numpy(), ops.hamming(q, g))


# -- sphere sampling ------------------------------------------------------------------
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-5), (torch.float64, 1e-12)])
def test_sample_sphere_matches_the_cpu_stream(dtype: torch.dtype, tol: float) -> None:
    rng = np.random.default_rng(5)
    c = rng.normal(size=(7, 129))
    r = rng.uniform(0.1, 2.0, size=7)
    cg = torch.tensor(c, dtype=dtype, device=DEV, requires_grad=True)
    rg = torch.tensor(r, dtype=dtype, device=DEV, requires_grad=True)
    z = ops.sample_sphere(cg, rg, 11, seed=2**63 + 5)
    assert z.is_cuda and tuple(z.shape) == (7, 11, 129)
    z_cpu = ops.sample_sphere(c.astype(np.float64 if dtype == torch.float64 else np.float32),
                              r.astype(np.float64 if dtype == torch.float64 else np.float32),
                              11, seed=2**63 + 5)
    np.testing.assert_allclose(z.detach().cpu().numpy(), z_cpu, rtol=tol, atol=tol)
    norms = torch.linalg.vector_norm(z.detach() - cg.detach()[:, None], dim=-1)
    np.testing.assert_allclose(norms.cpu().numpy(), np.repeat(r[:, None], 11, axis=1), rtol=10 * tol)
    # gradients: dz/dc = I, dz/dr = u
    z.sum().backward()
    np.testing.assert_allclose(cg.grad.cpu().numpy(), np.full(c.shape, 11.0), rtol=tol)
    u = (z.detach() - cg.detach()[:, None]) / rg.detach()[:, None, None]
    np.testing.assert_allclose(rg.grad.cpu().numpy(), u.sum(dim=(1, 2)).cpu().numpy(), rtol=1e-4, atol=1e-4)


# -- ML decoding ------------------------------------------------------------------
@pytest.mark.parametrize("k,n,rows", [(1, 5, 50), (2, 9, 50), (5, 31, 300), (8, 64, 300), (12, 128, 200),
                                      (16, 128, 300), (20, 128, 40), (24, 255, 6)])
def test_ml_decode_is_bit_identical_to_the_cpu(k: int, n: int, rows: int) -> None:
    rng = np.random.default_rng(k * 1000 + n)
    code = full_rank_code(rng, k, n)
    messages = random_bits(rng, rows, k)
    signs = 1.0 - 2.0 * code.encode_batch(messages)
    llrs = (2.0 * (signs + rng.normal(0, 0.9, size=(rows, n))) / 0.81).astype(np.float32)
    want_m, want_s = code.ml_decode_batch(llrs)
    got_m, got_s = code.ml_decode_batch(torch.from_numpy(llrs).to(DEV))
    assert got_m.is_cuda and got_m.dtype == torch.uint8 and got_s.dtype == torch.float32
    np.testing.assert_array_equal(got_m.cpu().numpy(), want_m)
    np.testing.assert_array_equal(got_s.cpu().numpy(), want_s)


def test_ml_decode_ties_break_as_on_the_cpu() -> None:
    """Integer LLRs tie often; both sides must pick the same (smallest) message."""
    rng = np.random.default_rng(6)
    code = full_rank_code(rng, 10, 40)
    llrs = rng.integers(-1, 2, size=(2000, 40)).astype(np.float32)
    llrs[:5] = 0.0  # every codeword ties
    want_m, want_s = code.ml_decode_batch(llrs)
    got_m, got_s = code.ml_decode_batch(torch.from_numpy(llrs).to(DEV))
    np.testing.assert_array_equal(got_m.cpu().numpy(), want_m)
    np.testing.assert_array_equal(got_s.cpu().numpy(), want_s)
    assert not want_m[:5].any() and (want_s[:5] == 0).all()


def test_ml_decode_chunks_rows_through_the_workspace() -> None:
    """k = 24 needs 64 MiB of workspace per word: 20 rows take two chunks of the 1 GiB budget."""
    rng = np.random.default_rng(7)
    code = full_rank_code(rng, 24, 64)
    llrs = rng.normal(size=(20, 64)).astype(np.float32)
    got_m, got_s = code.ml_decode_batch(torch.from_numpy(llrs).to(DEV))
    want_m, want_s = code.ml_decode_batch(llrs)
    np.testing.assert_array_equal(got_m.cpu().numpy(), want_m)
    np.testing.assert_array_equal(got_s.cpu().numpy(), want_s)


def test_ml_decode_inputs_on_the_gpu() -> None:
    rng = np.random.default_rng(8)
    code = full_rank_code(rng, 6, 20)
    llrs = rng.normal(size=(30, 40))
    view = torch.from_numpy(llrs).to(DEV)[:, ::2]  # float64, not contiguous
    got_m, got_s = code.ml_decode_batch(view)
    want_m, want_s = code.ml_decode_batch(llrs[:, ::2].astype(np.float32))
    np.testing.assert_array_equal(got_m.cpu().numpy(), want_m)
    np.testing.assert_array_equal(got_s.cpu().numpy(), want_s)
    empty_m, empty_s = code.ml_decode_batch(torch.zeros((0, 20), device=DEV))
    assert tuple(empty_m.shape) == (0, 6) and tuple(empty_s.shape) == (0,)
    bad = torch.from_numpy(llrs[:, ::2].astype(np.float32)).to(DEV)
    bad[3, 4] = float("inf")
    with pytest.raises(InvalidArgument, match="finite"):
        code.ml_decode_batch(bad)
    with pytest.raises(InvalidArgument, match="shape"):
        code.ml_decode_batch(torch.zeros((2, 21), device=DEV))


def test_kernels_run_on_the_callers_stream() -> None:
    rng = np.random.default_rng(9)
    code = full_rank_code(rng, 12, 64)
    llrs = rng.normal(size=(500, 64)).astype(np.float32)
    bits = random_bits(rng, 500, 130)
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        x = torch.from_numpy(llrs).to(DEV, non_blocking=False)
        m, s = code.ml_decode_batch(x)
        w = ops.pack_bits(torch.from_numpy(bits).to(DEV))
        d = ops.hamming(w, w)
    stream.synchronize()
    want_m, want_s = code.ml_decode_batch(llrs)
    np.testing.assert_array_equal(m.cpu().numpy(), want_m)
    np.testing.assert_array_equal(s.cpu().numpy(), want_s)
    np.testing.assert_array_equal(d.cpu().numpy(), ops.hamming(ops.pack_bits(bits), ops.pack_bits(bits)))
