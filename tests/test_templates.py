"""fuzzykey.templates: the U-Net template generator, its losses, training and weight files.

References are computed independently: Sobel edges with scipy.ndimage, cosines and
hinges with numpy, parameter counts by hand. The training test runs the frozen torch
copy of SFace on real LFW-dev crops of half-A people and checks the trained generator
through the onnxruntime SFace on uint8 templates, the way they will be used.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from fuzzykey.errors import InvalidArgument, ModelError
from fuzzykey.evaluation.datasets import lfw_half
from fuzzykey.templates import (
    TemplateLoss,
    TrainConfig,
    UNetGenerator,
    cosine_rows,
    count_parameters,
    distortion_reward,
    embedding_margin_loss,
    load_generator,
    protect_faces,
    save_generator,
    sobel_edges,
    ssim_rows,
    train_generator,
)

torch.set_num_threads(1)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def same(a, b) -> bool:
    """Whether two parameter sequences are equal, tensor by tensor."""
    return all(torch.equal(p, q) for p, q in zip(a, b, strict=True))


def images(n: int = 2, size: int = 16, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return (torch.rand(n, 3, size, size, generator=seeded(seed), dtype=dtype) * 255.0).round()


class ToyEncoder(torch.nn.Module):
    """A small trainable-looking encoder: pooled pixels through a linear map."""

    def __init__(self, size: int = 16, dim: int = 8) -> None:
        super().__init__()
        linear = torch.nn.Linear(3 * (size // 4) ** 2, dim)
        with torch.no_grad():
            linear.weight.copy_(torch.randn(linear.weight.shape, generator=seeded(5)) * 0.2)
            linear.bias.zero_()
        self.net = torch.nn.Sequential(torch.nn.AvgPool2d(4), torch.nn.Flatten(), linear)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(self.net(x / 255.0 - 0.5), dim=1)


def toy_crops(n: int = 8, size: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- generator


@pytest.mark.parametrize(("width", "depth"), [(4, 1), (4, 3), (6, 2), (16, 4)])
def test_generator_shape_range_dtype(width: int, depth: int) -> None:
    net = UNetGenerator(width, depth, generator=seeded(0))
    x = images(2, 112)
    x[0, :, :8] = 0.0
    x[1, :, :8] = 255.0  # the extremes
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert float(y.min()) >= 0.0 and float(y.max()) <= 255.0
    assert float((y - x).abs().max()) < 5.0  # untrained: nearly the identity
    assert float((y - x).abs().max()) > 0.0  # but not exactly, or the L1 reward has no gradient
    # saturated weights: still in range, and far from the input
    with torch.no_grad():
        net.head.weight.normal_(0.0, 50.0, generator=seeded(1))
        y = net(x)
    assert float(y.min()) >= 0.0 and float(y.max()) <= 255.0
    assert float((y - x).abs().mean()) > 20.0


def test_generator_output_does_not_depend_on_the_batch() -> None:
    net = UNetGenerator(8, 3, generator=seeded(0))
    with torch.no_grad():
        net.head.weight.normal_(0.0, 1.0, generator=seeded(1))
    x = images(3, 32)
    together = net(x)
    alone = torch.cat([net(x[i:i + 1]) for i in range(3)])
    # equal up to float rounding (convolutions may sum in another order for another batch
    # size); BatchNorm would differ by whole grey levels
    torch.testing.assert_close(together, alone, atol=1e-2, rtol=0)


def test_generator_init_is_seeded() -> None:
    a, b, c = (UNetGenerator(4, 3, generator=seeded(s)) for s in (7, 7, 8))
    assert same(a.parameters(), b.parameters())
    assert not same(a.parameters(), c.parameters())


def _block(c_in: int, c_out: int) -> int:
    conv = lambda i, o: 9 * i * o + o  # noqa: E731 - weights and bias of a 3x3 convolution
    return conv(c_in, c_out) + 2 * c_out + conv(c_out, c_out) + 2 * c_out  # + two GroupNorms


@pytest.mark.parametrize(("width", "depth"), [(4, 1), (4, 3), (16, 4), (24, 3)])
def test_parameter_count_by_hand(width: int, depth: int) -> None:
    ch = [width * 2**level for level in range(depth)]
    down = sum(_block(3 if i == 0 else ch[i - 1], ch[i]) for i in range(depth))
    up = sum(_block(ch[i + 1] + ch[i], ch[i]) for i in range(depth - 1))
    head = 3 * width + 3
    net = UNetGenerator(width, depth)
    assert count_parameters(net) == down + up + head
    net.head.requires_grad_(False)
    assert count_parameters(net, trainable_only=True) == down + up
    with pytest.raises(InvalidArgument, match="got list"):
        count_parameters([])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bad", "quoted"),
    [
        (torch.zeros(3, 112, 112), "(3, 112, 112)"),
        (torch.zeros(1, 4, 112, 112), "(1, 4, 112, 112)"),
        (torch.zeros(1, 3, 112, 108), "(1, 3, 112, 108)"),  # 108 is not a multiple of 8
        (torch.zeros(1, 3, 4, 4), "(1, 3, 4, 4)"),  # smaller than 8
        (torch.zeros(0, 3, 112, 112), "(0, 3, 112, 112)"),
        (torch.zeros(1, 3, 112, 112, dtype=torch.uint8), "torch.uint8"),
        (np.zeros((1, 3, 112, 112), np.float32), "ndarray"),
    ],
)
def test_generator_rejects_bad_input(bad: object, quoted: str) -> None:
    net = UNetGenerator(4, 4)
    with pytest.raises(InvalidArgument) as info:
        net(bad)
    assert quoted in str(info.value)


@pytest.mark.parametrize(("kwargs", "quoted"), [({"width": 0}, "width"), ({"width": 2.0}, "2.0"),
                                                ({"depth": 7}, "7"), ({"depth": True}, "True"),
                                                ({"width": 257}, "257")])
def test_generator_rejects_bad_settings(kwargs: dict, quoted: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        UNetGenerator(**kwargs)
    assert quoted in str(info.value)
    with pytest.raises(InvalidArgument, match="int"):
        UNetGenerator(generator=3)  # type: ignore[arg-type]


def test_protect_faces_rounds_the_generator_output() -> None:
    net = UNetGenerator(4, 2, generator=seeded(0))
    with torch.no_grad():
        net.head.weight.normal_(0.0, 0.5, generator=seeded(1))
    faces = toy_crops(5, 32)
    out = protect_faces(net, faces, batch_size=2)
    assert out.shape == faces.shape and out.dtype == np.uint8
    with torch.no_grad():
        ref = net(torch.from_numpy(faces.transpose(0, 3, 1, 2).astype(np.float32)))
    ref_u8 = np.clip(np.round(ref.numpy()), 0, 255).transpose(0, 2, 3, 1)
    assert np.abs(out.astype(int) - ref_u8).max() <= 1  # rounding of values within 1e-4 of .5
    assert np.abs(out.astype(int) - faces).mean() > 5.0
    np.testing.assert_array_equal(protect_faces(net, faces[0]), out[:1])  # one crop may omit N
    np.testing.assert_array_equal(protect_faces(net, torch.from_numpy(faces)), out)
    with pytest.raises(InvalidArgument, match="float32"):
        protect_faces(net, faces.astype(np.float32))
    with pytest.raises(InvalidArgument, match=r"\(5, 31, 32, 3\)"):
        protect_faces(net, toy_crops(5, 32)[:, :31])  # depth 2: sides must be even
    with pytest.raises(InvalidArgument, match="batch_size"):
        protect_faces(net, faces, batch_size=0)
    with pytest.raises(InvalidArgument, match="Linear"):
        protect_faces(torch.nn.Linear(2, 2), faces)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- losses


def np_sobel(x: np.ndarray) -> np.ndarray:
    """scipy's Sobel magnitude of each image's channel mean, image by image (on a stack,
    ndimage.sobel would also smooth across the images)."""
    out = []
    for image in x:
        grey = image.mean(axis=0)
        out.append(np.hypot(ndimage.sobel(grey, axis=1, mode="nearest"),
                            ndimage.sobel(grey, axis=0, mode="nearest")))
    return np.stack(out)[:, None]


def test_sobel_matches_scipy() -> None:
    x = images(3, 20, dtype=torch.float64)
    x[1] = 0.0
    x[1, :, :, 10:] = 255.0  # a clean vertical edge: 1020 next to it, 0 elsewhere
    got = sobel_edges(x).numpy()
    np.testing.assert_allclose(got, np_sobel(x.numpy()), rtol=1e-12, atol=1e-9)
    assert got.shape == (3, 1, 20, 20)
    np.testing.assert_array_equal(np.unique(got[1]), [0.0, 1020.0])


def test_sobel_gradient_is_finite_where_flat() -> None:
    x = torch.full((1, 3, 8, 8), 100.0, requires_grad=True)
    x.data[..., 4:] = 200.0
    sobel_edges(x).sum().backward()
    assert x.grad is not None and torch.all(torch.isfinite(x.grad))
    assert float(x.grad.abs().sum()) > 0.0  # the edge does have a gradient


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_distortion_reward_matches_numpy(alpha: float) -> None:
    x = images(2, 16, seed=1, dtype=torch.float64)
    gx = images(2, 16, seed=2, dtype=torch.float64)
    edges = np_sobel(x.numpy())
    mask = (1 - alpha) + alpha * edges / (edges.mean(axis=(2, 3), keepdims=True) + 1e-6)
    ref = (mask * np.abs(gx.numpy() - x.numpy())).mean() / 255.0
    got = distortion_reward(x, gx, edge_weight=alpha)
    assert got.ndim == 0
    assert float(got) == pytest.approx(ref, rel=1e-10)


def test_distortion_reward_pays_more_for_edges_and_has_no_gradient_into_the_mask() -> None:
    x = torch.zeros(1, 3, 16, 16)
    x[..., 8:] = 255.0
    on_edge, off_edge = x.clone(), x.clone()
    on_edge[..., 7:9] = 127.5  # columns 7 and 8 carry the edge
    off_edge[..., 0:2] = 127.5  # the same amount of change in a flat area
    assert float((on_edge - x).abs().sum()) == float((off_edge - x).abs().sum())
    plain = float(distortion_reward(x, off_edge, 0.0))
    assert float(distortion_reward(x, on_edge, 0.0)) == pytest.approx(plain)
    assert float(distortion_reward(x, on_edge, 0.5)) > 2 * float(distortion_reward(x, off_edge, 0.5))
    xg = x.clone().requires_grad_(True)
    gx = on_edge.clone().requires_grad_(True)
    distortion_reward(xg, gx).backward()
    assert xg.grad is None and gx.grad is not None


def test_embedding_margin_loss_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    e = rng.normal(size=(6, 5))
    g = e + rng.normal(scale=0.8, size=(6, 5))
    cos = (e * g).sum(1) / (np.linalg.norm(e, axis=1) * np.linalg.norm(g, axis=1))
    assert cos.min() < 0.8 < cos.max()  # some rows inside the margin, some outside
    for margin in (0.0, 0.2, 0.5, 2.0):
        ref = np.maximum(0.0, (1.0 - cos) - margin).mean()
        got = embedding_margin_loss(torch.from_numpy(e), torch.from_numpy(g), margin)
        assert float(got) == pytest.approx(ref, rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(cosine_rows(torch.from_numpy(e), torch.from_numpy(g)).numpy(), cos, rtol=1e-12)


def test_template_loss_combines_the_terms() -> None:
    x, gx = images(4, 16, seed=4), images(4, 16, seed=5)
    e, g = torch.randn(4, 8, generator=seeded(6)), torch.randn(4, 8, generator=seeded(7))
    loss = TemplateLoss(margin=0.1, embedding_weight=3.0, distortion_weight=0.5, edge_weight=0.25)
    terms = loss(x, gx, e, g)
    emb, dist = embedding_margin_loss(e, g, 0.1), distortion_reward(x, gx, 0.25)
    assert float(emb) > 0 and float(dist) > 0
    assert float(terms.total) == pytest.approx(3.0 * float(emb) - 0.5 * float(dist), rel=1e-6)
    assert float(terms.cosine) == pytest.approx(float(cosine_rows(e, g).mean()), rel=1e-6)
    with pytest.raises(InvalidArgument, match="one row per image"):
        loss(x, gx, e[:3], g[:3])
    with pytest.raises(InvalidArgument, match="e_gx must be a torch.Tensor, got ndarray"):
        loss(x, gx, e, g.numpy())


def test_ssim_rows_matches_scikit_image() -> None:
    from skimage.metrics import structural_similarity

    x, y = images(3, 24, seed=8, dtype=torch.float64), images(3, 24, seed=9, dtype=torch.float64)
    y = 0.6 * x + 0.4 * y  # related, so SSIM is well inside (-1, 1)
    got = ssim_rows(x, y).numpy()
    a, b = x.permute(0, 2, 3, 1).numpy(), y.permute(0, 2, 3, 1).numpy()
    ref = [structural_similarity(a[n], b[n], channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=255) for n in range(3)]
    np.testing.assert_allclose(got, ref, rtol=1e-9)
    assert 0.2 < got.min() and got.max() < 0.95


def test_ssim_rows_gradient_matches_finite_differences() -> None:
    x = images(1, 12, seed=10, dtype=torch.float64)
    y = images(1, 12, seed=11, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: ssim_rows(x, t), (y,), eps=1e-3, atol=1e-7)


def test_ssim_rows_rejects_bad_input() -> None:
    with pytest.raises(InvalidArgument, match=r"at least 11 pixels.*\(1, 3, 8, 8\)"):
        ssim_rows(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
    with pytest.raises(InvalidArgument, match=r"\(1, 3, 16, 16\) and \(1, 3, 16, 12\)"):
        ssim_rows(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 12))
    with pytest.raises(InvalidArgument, match="data_range.*0"):
        ssim_rows(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 16), data_range=0)


def test_template_loss_ssim_term_rewards_structural_change() -> None:
    x, gx = images(4, 16, seed=4), images(4, 16, seed=5)
    e, g = torch.randn(4, 8, generator=seeded(6)), torch.randn(4, 8, generator=seeded(7))
    plain = TemplateLoss(margin=0.1, embedding_weight=3.0, distortion_weight=0.5, edge_weight=0.25)
    with_ssim = TemplateLoss(margin=0.1, embedding_weight=3.0, distortion_weight=0.5, edge_weight=0.25,
                             ssim_weight=2.0)
    sim = float(ssim_rows(x, gx).mean())
    a, b = plain(x, gx, e, g), with_ssim(x, gx, e, g)
    assert float(a.ssim) == pytest.approx(sim) and float(b.ssim) == pytest.approx(sim)
    assert float(b.total) == pytest.approx(float(a.total) - 2.0 * (1.0 - sim), rel=1e-6)
    # the term's gradient reaches the templates; with weight 0 nothing extra is asked
    t = gx.clone().requires_grad_(True)
    with_ssim(x, t, e, g).total.backward()
    assert t.grad is not None and float(t.grad.abs().sum()) > 0
    small = plain(images(1, 8), images(1, 8, seed=1), e[:1], g[:1])
    assert math.isnan(float(small.ssim))  # no window fits: not computed, and not needed


@pytest.mark.parametrize(
    ("kwargs", "quoted"),
    [({"ssim_weight": -0.5}, "-0.5"), ({"margin": 2.5}, "2.5"), ({"margin": -0.1}, "-0.1"),
     ({"edge_weight": 1.5}, "1.5"),
     ({"embedding_weight": 0.0}, "0.0"), ({"distortion_weight": -1.0}, "-1.0"),
     ({"embedding_weight": math.nan}, "nan"), ({"margin": True}, "True"), ({"edge_weight": "0.5"}, "'0.5'")],
)
def test_template_loss_rejects_bad_settings(kwargs: dict, quoted: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        TemplateLoss(**kwargs)
    assert quoted in str(info.value)
    with pytest.raises(InvalidArgument) as info:
        TrainConfig(**kwargs)
    assert quoted in str(info.value)


def test_losses_reject_bad_shapes() -> None:
    with pytest.raises(InvalidArgument, match=r"\(3, 8, 8\)"):
        sobel_edges(torch.zeros(3, 8, 8))
    with pytest.raises(InvalidArgument, match="torch.int64"):
        sobel_edges(torch.zeros(1, 3, 8, 8, dtype=torch.int64))
    with pytest.raises(InvalidArgument, match=r"\(1, 3, 8, 8\) and \(1, 3, 8, 4\)"):
        distortion_reward(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 4))
    with pytest.raises(InvalidArgument, match=r"\(2, 4\) and \(2, 5\)"):
        embedding_margin_loss(torch.zeros(2, 4), torch.zeros(2, 5), 0.1)
    with pytest.raises(InvalidArgument, match=r"shape \(4,\)"):
        cosine_rows(torch.zeros(4), torch.zeros(4))


# --------------------------------------------------------------------------- training


@pytest.mark.parametrize(
    ("kwargs", "quoted"),
    [({"width": 0}, "0"), ({"depth": 9}, "9"), ({"epochs": 0}, "0"), ({"batch_size": 1.5}, "1.5"),
     ({"learning_rate": 0.0}, "0.0"), ({"learning_rate": 2}, "2"), ({"seed": -1}, "-1")],
)
def test_train_config_rejects_bad_values(kwargs: dict, quoted: str) -> None:
    name = next(iter(kwargs))
    with pytest.raises(InvalidArgument) as info:
        TrainConfig(**kwargs)
    assert name in str(info.value) and f"got {quoted}" in str(info.value)


def test_train_config_is_frozen_and_json_able() -> None:
    config = TrainConfig(width=8, seed=3)
    assert json.loads(json.dumps(config.to_dict()))["width"] == 8
    with pytest.raises(AttributeError):
        config.width = 4  # type: ignore[misc]


def test_training_is_repeatable_and_leaves_the_encoder_alone() -> None:
    encoder = ToyEncoder()
    encoder.train()
    before = [p.detach().clone() for p in encoder.parameters()]
    config = TrainConfig(width=4, depth=2, epochs=2, batch_size=3, learning_rate=0.01, seed=11)
    crops = toy_crops()
    seen = []
    a = train_generator(crops, encoder, config, on_epoch=seen.append)
    b = train_generator(crops, encoder, config)
    assert seen == a.history and [s.epoch for s in seen] == [1, 2]
    assert same(a.generator.parameters(), b.generator.parameters())
    fresh = UNetGenerator(4, 2, generator=seeded(11))
    assert not same(a.generator.parameters(), fresh.parameters())
    # the encoder: same weights, no gradients, its flags and mode given back
    assert same(before, encoder.parameters())
    assert all(p.grad is None and p.requires_grad for p in encoder.parameters())
    assert encoder.training
    c = train_generator(crops, encoder, TrainConfig(width=4, depth=2, epochs=2, batch_size=3,
                                                    learning_rate=0.01, seed=12))
    assert not same(a.generator.parameters(), c.generator.parameters())


def test_training_can_continue_a_generator() -> None:
    config = TrainConfig(width=4, depth=2, epochs=1, batch_size=4, learning_rate=0.01)
    first = train_generator(toy_crops(), ToyEncoder(), config)
    again = train_generator(toy_crops(), ToyEncoder(), config, generator=first.generator)
    assert again.generator is first.generator
    with pytest.raises(InvalidArgument, match="'width': 8"):
        train_generator(toy_crops(), ToyEncoder(), config, generator=UNetGenerator(8, 2))


def test_the_margin_holds_the_cosine_up() -> None:
    """Same run, once with a tight margin and a heavy hinge, once with the hinge off (margin 2):
    the free run distorts more and moves the embeddings further."""
    crops, encoder = toy_crops(8, 16, seed=1), ToyEncoder()
    common = {"width": 4, "depth": 2, "epochs": 4, "batch_size": 4, "learning_rate": 0.03, "seed": 2}
    held = train_generator(crops, encoder, TrainConfig(margin=0.0, embedding_weight=50.0, **common))
    free = train_generator(crops, encoder, TrainConfig(margin=2.0, **common))
    assert free.history[-1].l1 > held.history[-1].l1
    assert free.history[-1].distortion > 5 * free.history[0].distortion
    assert held.history[-1].cosine > free.history[-1].cosine
    assert held.history[-1].embedding > 0.0  # margin 0: every change costs
    assert free.history[-1].embedding == 0.0  # margin 2: no change does


def test_training_rejects_bad_input() -> None:
    config = TrainConfig(width=4, depth=3, epochs=1)
    with pytest.raises(InvalidArgument, match=r"\(8, 18, 16, 3\)"):
        train_generator(np.zeros((8, 18, 16, 3), np.uint8), ToyEncoder(), config)
    with pytest.raises(InvalidArgument, match="float64"):
        train_generator(toy_crops().astype(np.float64), ToyEncoder(), config)
    with pytest.raises(InvalidArgument, match="encoder must be a torch.nn.Module, got function"):
        train_generator(toy_crops(), lambda x: x, config)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match=r"got \(4, 3, 16, 16\)"):
        train_generator(toy_crops(4), torch.nn.Identity(), config)
    with pytest.raises(InvalidArgument, match="validation crops"):
        train_generator(toy_crops(), ToyEncoder(), config, validation=toy_crops(2, 32))
    with pytest.raises(InvalidArgument, match="config must be a TrainConfig, got dict"):
        train_generator(toy_crops(), ToyEncoder(), {"epochs": 1})  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match=r"11x11 pixels .*\(4, 8, 8, 3\)"):
        train_generator(np.zeros((4, 8, 8, 3), np.uint8), ToyEncoder(), TrainConfig(width=4, depth=2))
    # without the SSIM reward, small crops train
    small = TrainConfig(width=4, depth=2, epochs=1, batch_size=4, ssim_weight=0.0)
    assert math.isnan(train_generator(toy_crops(4, 8), ToyEncoder(8), small).history[0].ssim)


# --------------------------------------------------------------------------- weight files


def test_save_load_round_trip_is_exact(tmp_path) -> None:
    net = UNetGenerator(6, 3, generator=seeded(0))
    with torch.no_grad():
        net.head.weight.normal_(0.0, 0.3, generator=seeded(1))
    path = tmp_path / "g.weights"  # written under exactly this name
    provenance = {"data": "lfw-dev half A", "people": 3, "history": [{"epoch": 1, "cosine": 0.9}]}
    save_generator(path, net, provenance)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.weights"]
    loaded, meta = load_generator(path)
    assert meta["provenance"] == provenance and meta["config"] == {"width": 6, "depth": 3}
    assert meta["format"] == "fuzzykey.templates.unet" and meta["version"] == 1
    original = net.state_dict()
    for name, value in loaded.state_dict().items():
        assert torch.equal(value, original[name].half().float()), name
    # the file is plain float16 arrays and a JSON header, readable without pickle
    with np.load(path, allow_pickle=False) as npz:
        assert all(npz[k].dtype == np.float16 for k in npz.files if k != "__meta__")
        assert json.loads(npz["__meta__"].tobytes())["sha256"] == meta["sha256"]
    # saving the loaded one again gives the same weights and hash: float16 is a fixed point
    save_generator(tmp_path / "again.npz", loaded, provenance)
    twice, meta2 = load_generator(tmp_path / "again.npz")
    assert meta2["sha256"] == meta["sha256"]
    assert same(loaded.parameters(), twice.parameters())
    x = images(2, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), twice(x), atol=0, rtol=0)
        assert float((loaded(x) - net(x)).abs().max()) < 2.0  # float16 weights: close to the original


def _rewrite(src, dst, change) -> None:
    with np.load(src, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    with open(dst, "wb") as fh:
        np.savez(fh, **arrays)


def test_load_rejects_altered_or_foreign_files(tmp_path) -> None:
    path = tmp_path / "g.npz"
    save_generator(path, UNetGenerator(4, 2, generator=seeded(0)))

    def flip(arrays):
        arrays["head.bias"] = arrays["head.bias"] + np.float16(0.5)

    def meta(**fields):
        def change(arrays):
            header = json.loads(arrays["__meta__"].tobytes())
            header.update(fields)
            arrays["__meta__"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
        return change

    cases = {
        "altered": (flip, "SHA-256"),
        "version": (meta(version=2), "version 2"),
        "format": (meta(format="other"), "'other'"),
        "config": (meta(config={"width": 8, "depth": 2}), "missing"),
        "badconfig": (meta(config={"width": 0, "depth": 2}), "width"),
        "nometa": (lambda a: a.pop("__meta__"), "__meta__"),
        "extra": (lambda a: a.update(extra=np.zeros(2, np.float16)), "unexpected \\['extra'\\]"),
    }
    for name, (change, message) in cases.items():
        bad = tmp_path / f"{name}.npz"
        _rewrite(path, bad, change)
        with pytest.raises(ModelError, match=message):
            load_generator(bad)
    np.save(tmp_path / "one.npy", np.zeros(3, np.float16))
    with pytest.raises(ModelError, match="holds one ndarray"):
        load_generator(tmp_path / "one.npy")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a generator file"):
        load_generator(tmp_path / "junk.npz")
    with pytest.raises(ModelError, match="cannot read"):
        load_generator(tmp_path / "missing.npz")
    # a pickled object array is refused, not unpickled
    with open(tmp_path / "pickled.npz", "wb") as fh:
        np.savez(fh, __meta__=np.array([{"format": "x"}], dtype=object))
    with pytest.raises(ModelError, match="pickle"):
        load_generator(tmp_path / "pickled.npz")


def test_save_rejects_bad_provenance_and_models(tmp_path) -> None:
    net = UNetGenerator(4, 2)
    with pytest.raises(InvalidArgument, match="JSON"):
        save_generator(tmp_path / "a.npz", net, {"bad": {1, 2}})
    with pytest.raises(InvalidArgument, match="JSON"):
        save_generator(tmp_path / "a.npz", net, {"cos": math.nan})
    with pytest.raises(InvalidArgument, match="str keys"):
        save_generator(tmp_path / "a.npz", net, {1: "x"})  # type: ignore[dict-item]
    with pytest.raises(InvalidArgument, match="UNetGenerator, got Linear"):
        save_generator(tmp_path / "a.npz", torch.nn.Linear(2, 2))  # type: ignore[arg-type]
    with torch.no_grad():
        net.head.bias.fill_(1e6)
    with pytest.raises(InvalidArgument, match="float16"):
        save_generator(tmp_path / "a.npz", net)
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind


# --------------------------------------------------------------------------- SFace on LFW


@pytest.fixture(scope="module")
def sface(face_cache_dir):
    """SFace on one onnxruntime thread (the session fixture takes every core)."""
    from fuzzykey.face.encoders import SFaceEncoder

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FUZZYKEY_CACHE", str(face_cache_dir))
        return SFaceEncoder(threads=1)


@pytest.fixture(scope="module")
def sface_torch(sface, face_cache_dir):
    """The frozen differentiable torch copy of SFace."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FUZZYKEY_CACHE", str(face_cache_dir))
        return sface.torch_module()


@pytest.fixture(scope="module")
def lfw_crops(lfw_images, yunet):
    """The first photo of the first 10 half-A people (8 to train on, 2 to validate)."""
    people = [p for p in sorted(lfw_images.iterdir()) if p.is_dir() and lfw_half(p.name) == "a"][:10]
    assert len(people) == 10
    return np.stack([yunet.detect_and_align(sorted(p.glob("*.jpg"))[0]).crop for p in people])


def test_gradients_reach_the_generator_but_not_sface(sface_torch, lfw_crops) -> None:
    net = UNetGenerator(4, 3, generator=seeded(0))
    x = torch.from_numpy(lfw_crops[:2].transpose(0, 3, 1, 2).astype(np.float32))
    with torch.no_grad():
        e_x = sface_torch(x)
    with torch.no_grad():
        net.head.weight.normal_(0.0, 0.2, generator=seeded(1))  # far enough for the hinge to bite
    gx = net(x)
    terms = TemplateLoss(margin=0.0)(x, gx, e_x, sface_torch(gx))
    assert float(terms.embedding.detach()) > 0
    terms.total.backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.all(torch.isfinite(g)) for g in grads)
    assert all(float(g.abs().sum()) > 0 for g in grads if g is not None)
    assert all(p.grad is None and not p.requires_grad for p in sface_torch.parameters())


def test_short_training_on_lfw_distorts_and_keeps_the_match(sface, sface_torch, lfw_crops) -> None:
    train, val = lfw_crops[:8], lfw_crops[8:]
    config = TrainConfig(width=8, depth=3, epochs=3, batch_size=4, learning_rate=0.01, margin=0.2, seed=0)
    result = train_generator(train, sface_torch, config, validation=val)
    first, last = result.history[0], result.history[-1]
    assert first.cosine > 0.95  # starts near the identity
    assert last.distortion > 3 * first.distortion and last.l1 > 0.02
    assert last.val_distortion is not None and last.val_cosine is not None
    assert last.val_distortion > 0.02 and last.val_cosine > 0.6
    # the uint8 templates through the onnxruntime SFace, as they will be used
    templates = protect_faces(result.generator, train)
    assert np.abs(templates.astype(float) - train).mean() / 255.0 > 0.02
    cos = (sface.embed(templates) * sface.embed(train)).sum(axis=1)
    assert cos.mean() > 0.75 and cos.min() > 0.5, cos
    # and a template still matches its own photo better than other people's photos
    cross = sface.embed(templates) @ sface.embed(train).T
    np.testing.assert_array_equal(cross.argmax(axis=1), np.arange(8))
