"""DVSP head and baselines (fuzzykey.robust.dvsp): loss terms, the sphere sampler, FGSM, training."""

from __future__ import annotations

import doctest
import math
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fuzzykey import ops  # noqa: E402
from fuzzykey.robust import dvsp  # noqa: E402

HIDDEN, DIM = 16, 6


def _toy(n: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes of 1x28x28 images: a bright left half vs a bright right half, plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = 0.2 * torch.rand(n, 1, 28, 28, generator=g)
    x[y == 0, :, :, :14] += 0.6
    x[y == 1, :, :, 14:] += 0.6
    return x, y


def _heads() -> dict[str, torch.nn.Module]:
    return {
        "dvsp": dvsp.DVSPHead(HIDDEN, DIM, 2, radius=3.0, beta=1e-3, n_samples=4),
        "dvib": dvsp.DVIBHead(HIDDEN, DIM, 2, beta=1e-3, n_samples=4),
        "center": dvsp.CenterLossHead(HIDDEN, DIM, 2, lam=0.01),
        # constant lambda (base == lambda_min) so losses before/after training are comparable
        "sphereface": dvsp.SphereFaceHead(HIDDEN, DIM, 2, base=5.0, lambda_min=5.0),
    }


def test_import_fuzzykey_does_not_import_dvsp() -> None:
    code = "import sys, fuzzykey; assert 'fuzzykey.robust.dvsp' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_gaussian_kl_matches_closed_form_and_torch_distributions() -> None:
    rng = np.random.default_rng(1)
    mu = rng.normal(size=(5, 7))
    logvar = rng.normal(size=(5, 7))
    sigma2 = np.exp(logvar)
    expected = 0.5 * (mu**2 + sigma2 - np.log(sigma2) - 1.0).sum(axis=1)
    got = dvsp.gaussian_kl(torch.from_numpy(mu), torch.from_numpy(logvar)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    p = torch.distributions.Normal(torch.from_numpy(mu), torch.from_numpy(np.sqrt(sigma2)))
    q = torch.distributions.Normal(
        torch.zeros(5, 7, dtype=torch.float64), torch.ones(5, 7, dtype=torch.float64)
    )
    np.testing.assert_allclose(torch.distributions.kl_divergence(p, q).sum(1).numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("kind", ["dvsp", "dvib"])
def test_kl_part_of_the_loss_is_the_closed_form(kind: str) -> None:
    torch.manual_seed(0)
    head = _heads()[kind]
    h = torch.randn(8, HIDDEN)
    y = torch.arange(8) % 2
    with torch.no_grad():
        total, parts = head.loss(h, y)
    mu = head.mu(h).detach().double().numpy()
    s2 = head.logvar(h).detach().double().exp().numpy()
    expected = (0.5 * (mu**2 + s2 - np.log(s2) - 1.0).sum(axis=1)).mean()
    assert set(parts) == {"ce", "kl"}
    assert float(parts["kl"]) == pytest.approx(expected, rel=1e-5)
    assert float(total) == pytest.approx(float(parts["ce"]) + head.beta * float(parts["kl"]), rel=1e-6)


def test_dvsp_samples_come_from_ops_sample_sphere(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[tuple[int, ...], tuple[int, ...], int]] = []
    real = ops.sample_sphere

    def counting(
        centers: torch.Tensor, radii: torch.Tensor, n_samples: int, seed: int | None = None
    ) -> object:
        calls.append((tuple(centers.shape), tuple(radii.shape), n_samples))
        return real(centers, radii, n_samples, seed)

    monkeypatch.setattr(ops, "sample_sphere", counting)
    head = dvsp.DVSPHead(HIDDEN, DIM, 3, radius=2.0, n_samples=5)
    head.loss(torch.randn(4, HIDDEN), torch.tensor([0, 1, 2, 0]))
    assert calls == [((4, DIM), (4,), 5)]


def test_dvsp_samples_lie_on_the_shell() -> None:
    torch.manual_seed(3)
    head = dvsp.DVSPHead(HIDDEN, DIM, 3, radius=2.5, n_samples=7)
    out = head(torch.randn(9, HIDDEN))
    z, centre, r = out["z"], out["centre"], out["r"]
    assert z.shape == (9, 7, DIM) and out["logits"].shape == (9, 7, 3)
    torch.testing.assert_close(centre.norm(dim=1), torch.full((9,), 2.5))
    torch.testing.assert_close(centre, 2.5 * out["mu"] / out["mu"].norm(dim=1, keepdim=True))
    torch.testing.assert_close(r, out["logvar"].exp().mean(dim=1))
    dist = (z - centre[:, None, :]).norm(dim=2)
    torch.testing.assert_close(dist, r[:, None].expand(9, 7), rtol=1e-5, atol=1e-6)
    # the sample directions are not all the same
    assert float((z[:, 0] - z[:, 1]).detach().abs().max()) > 1e-3


def test_gradients_flow_to_mu_and_logvar_through_the_sampler() -> None:
    torch.manual_seed(4)
    head = dvsp.DVSPHead(HIDDEN, DIM, 3, radius=2.0, beta=0.0, n_samples=3)
    out = head(torch.randn(5, HIDDEN))
    y = torch.tensor([0, 1, 2, 1, 0])
    ce = torch.nn.functional.cross_entropy(out["logits"].reshape(15, 3), y.repeat_interleave(3))
    g_mu, g_logvar = torch.autograd.grad(ce, [out["mu"], out["logvar"]])
    assert float(g_mu.abs().sum()) > 0 and float(g_logvar.abs().sum()) > 0
    # and into the parameters of both layers from the full loss
    head.zero_grad()
    total, _ = head.loss(torch.randn(5, HIDDEN), y)
    total.backward()
    assert float(head.mu.weight.grad.abs().sum()) > 0
    assert float(head.logvar.weight.grad.abs().sum()) > 0


def test_dvib_reparameterisation() -> None:
    torch.manual_seed(5)
    head = dvsp.DVIBHead(HIDDEN, DIM, 2, n_samples=4000)
    out = head(torch.randn(2, HIDDEN))
    z = out["z"]
    torch.testing.assert_close(z.mean(dim=1), out["mu"], atol=0.15, rtol=0)
    torch.testing.assert_close(z.var(dim=1), out["logvar"].exp(), atol=0.15, rtol=0.15)


def test_center_loss_term() -> None:
    torch.manual_seed(6)
    head = dvsp.CenterLossHead(HIDDEN, DIM, 3, lam=0.5)
    with torch.no_grad():
        head.centers.normal_()
    h = torch.randn(7, HIDDEN)
    y = torch.tensor([0, 1, 2, 2, 1, 0, 0])
    total, parts = head.loss(h, y)
    f = head.embed(h).detach().double().numpy()
    c = head.centers.detach().double().numpy()
    expected = 0.5 * np.mean(np.sum((f - c[y.numpy()]) ** 2, axis=1))
    assert set(parts) == {"ce", "center"}
    assert float(parts["center"].detach()) == pytest.approx(expected, rel=1e-5)
    assert float(total.detach()) == pytest.approx(float(parts["ce"].detach()) + 0.5 * expected, rel=1e-5)
    total.backward()
    assert float(head.centers.grad.abs().sum()) > 0  # centres are trained


def test_sphereface_psi_and_margin() -> None:
    head = dvsp.SphereFaceHead(HIDDEN, DIM, 3)
    theta = torch.linspace(0, math.pi, 2001, dtype=torch.float64)
    psi = head.psi(torch.cos(theta))
    k = torch.floor(4 * theta / math.pi).clamp(max=3)
    expected = (-1.0) ** k * torch.cos(4 * theta) - 2 * k
    torch.testing.assert_close(psi[:-1], expected[:-1], atol=1e-6, rtol=0)
    assert bool((psi <= torch.cos(theta) + 1e-9).all())
    assert bool((psi[1:] <= psi[:-1] + 1e-9).all())  # monotone decreasing, continuous
    torch.testing.assert_close(psi[0], torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(psi[-1], torch.tensor(-7.0, dtype=torch.float64), atol=1e-5, rtol=0)

    torch.manual_seed(7)
    f = torch.randn(50, DIM)
    y = torch.randint(0, 3, (50,))
    plain = head.logits(f)
    for lam in (0.0, 5.0, 1000.0):
        margin = head.logits(f, y, lam=lam)
        idx = torch.arange(50)
        assert bool((margin[idx, y] <= plain[idx, y] + 1e-5).all())
        other = torch.ones_like(plain, dtype=torch.bool)
        other[idx, y] = False
        torch.testing.assert_close(margin[other], plain[other])
        # plain logits are |f| cos(theta_j) with normalised weights
    w = head.weight / head.weight.norm(dim=1, keepdim=True)
    torch.testing.assert_close(plain, f @ w.t())


def test_sphereface_lambda_anneals() -> None:
    head = dvsp.SphereFaceHead(HIDDEN, DIM, 2)
    assert head.lam() == pytest.approx(1000.0)
    h, y = torch.randn(4, HIDDEN), torch.tensor([0, 1, 0, 1])
    head.eval()
    head.loss(h, y)
    assert int(head.iterations) == 0
    head.train()
    for _ in range(10):
        head.loss(h, y)
    assert int(head.iterations) == 10
    assert head.lam() == pytest.approx(1000.0 / (1 + 0.12 * 10))
    head.iterations.fill_(10**6)
    assert head.lam() == 5.0


def _trained_dvsp() -> tuple[dvsp.MnistBackbone, dvsp.DVSPHead, torch.Tensor, torch.Tensor]:
    torch.manual_seed(8)
    net = dvsp.MnistBackbone(hidden=HIDDEN)
    head = dvsp.DVSPHead(HIDDEN, DIM, 2, radius=3.0, n_samples=4)
    opt = torch.optim.Adam([*net.parameters(), *head.parameters()], lr=3e-3)
    x, y = _toy()
    for _ in range(5):
        dvsp.train_step(net, head, opt, x, y, adversarial=False)
    return net, head, x, y


def test_fgsm_norm_and_loss_increase() -> None:
    net, head, x, y = _trained_dvsp()
    net.eval()

    def loss_fn(xx: torch.Tensor, yy: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(99)  # same sphere samples for every evaluation
        return head.loss(net(xx), yy)[0]

    for p in [*net.parameters(), *head.parameters()]:
        p.grad = None
    x_adv = dvsp.fgsm(loss_fn, x, y, eps=0.1)
    assert not x_adv.requires_grad and x_adv.shape == x.shape
    norms = (x_adv - x).flatten(1).norm(dim=1)
    torch.testing.assert_close(norms, torch.full((len(x),), 0.1), rtol=1e-4, atol=1e-6)
    assert all(p.grad is None for p in net.parameters())  # parameter gradients untouched
    with torch.no_grad():
        clean, adv = float(loss_fn(x, y)), float(loss_fn(x_adv, y))
    assert adv > clean
    # the opposite direction lowers it: the step is along the gradient
    with torch.no_grad():
        assert float(loss_fn(x - (x_adv - x), y)) < clean


def test_train_step_appends_fgsm_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(9)
    net = dvsp.MnistBackbone(hidden=HIDDEN)
    head = dvsp.CenterLossHead(HIDDEN, DIM, 2)
    opt = torch.optim.SGD([*net.parameters(), *head.parameters()], lr=0.01)
    sizes: list[int] = []
    real = head.loss

    def spy(h: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        sizes.append(len(h))
        return real(h, y)

    monkeypatch.setattr(head, "loss", spy)
    x, y = _toy(6)
    parts = dvsp.train_step(net, head, opt, x, y)
    assert sizes == [6, 12]  # FGSM pass on the clean batch, then the step on clean + adversarial
    assert set(parts) == {"total", "ce", "center"}
    sizes.clear()
    dvsp.train_step(net, head, opt, x, y, adversarial=False)
    assert sizes == [6]


@pytest.mark.parametrize("kind", ["dvsp", "dvib", "center", "sphereface"])
def test_training_lowers_the_loss(kind: str) -> None:
    torch.manual_seed(10)
    net = dvsp.MnistBackbone(hidden=HIDDEN)
    head = _heads()[kind]
    opt = torch.optim.Adam([*net.parameters(), *head.parameters()], lr=3e-3)
    x, y = _toy()

    def clean_loss() -> float:
        net.eval()
        head.eval()
        torch.manual_seed(123)
        with torch.no_grad():
            return float(head.loss(net(x), y)[0])

    before = clean_loss()
    for _ in range(8):
        dvsp.train_step(net, head, opt, x, y)
    after = clean_loss()
    assert after < before


@pytest.mark.parametrize("kind", ["dvsp", "dvib", "center", "sphereface"])
def test_features_shape(kind: str) -> None:
    torch.manual_seed(11)
    net = dvsp.MnistBackbone(hidden=HIDDEN)
    head = _heads()[kind]
    x, _ = _toy(5)
    with torch.no_grad():
        feats = head.features(net(x))
    assert feats.shape == (5, DIM)
    if kind == "dvsp":
        torch.testing.assert_close(feats.norm(dim=1), torch.full((5,), 3.0))


def test_backbone_is_deterministic_under_manual_seed() -> None:
    x, y = _toy(4)
    results = []
    for _ in range(2):
        torch.manual_seed(12)
        net = dvsp.MnistBackbone(hidden=HIDDEN)
        head = dvsp.DVSPHead(HIDDEN, DIM, 2, radius=2.0, n_samples=3)
        opt = torch.optim.Adam([*net.parameters(), *head.parameters()], lr=1e-3)
        parts = dvsp.train_step(net, head, opt, x, y)
        results.append((parts, net(x).detach()))
    assert results[0][0] == results[1][0]
    torch.testing.assert_close(results[0][1], results[1][1], rtol=0, atol=0)
    assert results[0][1].shape == (4, HIDDEN)


def test_module_docstring_example() -> None:
    # tests/test_docs.py lists the modules it doctests; this module is checked here instead.
    result = doctest.testmod(dvsp, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0 and result.attempted > 0
