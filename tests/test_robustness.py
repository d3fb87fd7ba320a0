"""Tests of fuzzykey.robust.robustness: the feature-space CW attack and the robustness index."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fuzzykey.errors import InvalidArgument  # noqa: E402
from fuzzykey.evaluation.metrics import cosine_scores, det_curve, eer_threshold, threshold_at_fmr  # noqa: E402
from fuzzykey.robust.robustness import (  # noqa: E402
    cw_feature_attack,
    robustness_index,
)

ALPHA = 0.4  # cone half-angle: T = cos(ALPHA)
T = math.cos(ALPHA)


class Centered(torch.nn.Module):
    """Features x - c (+ bias): identity features about the box centre."""

    def __init__(self, dim: int, bias: float = 0.0) -> None:
        super().__init__()
        self.c = torch.full((dim,), 0.5)
        b = torch.zeros(dim)
        b[0] = bias
        self.b = b

    def forward(self, x):
        return x - self.c + self.b


def _plane_pairs(n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    r = 0.2 + 0.8 * torch.rand(n, generator=g)
    th = ALPHA + (math.pi / 2 - 0.2) * torch.rand(n, generator=g)  # theta - alpha in (0, pi/2)
    x1 = torch.stack([r, torch.zeros(n)], 1)
    x2 = torch.stack([torch.cos(th), torch.sin(th)], 1)
    # distance from x1 to the cone of half-angle ALPHA about x2's direction
    exact = (r * torch.sin(th - ALPHA)).numpy().astype(np.float64)
    return x1, x2, exact


def test_attack_matches_analytic_minimum_in_the_plane():
    x1, x2, exact = _plane_pairs(48)
    res = cw_feature_attack(torch.nn.Identity(), x1, x2, T, box=(-2.0, 2.0), steps=200)
    assert res.success.all()
    cos = torch.nn.functional.cosine_similarity(res.adversarial, x2, dim=1).numpy()
    assert np.all(cos >= T - 1e-6)
    np.testing.assert_allclose(res.cosine, cos, atol=1e-5)
    l2 = torch.linalg.norm(res.adversarial - x1, dim=1).numpy()
    np.testing.assert_allclose(res.l2, l2, rtol=1e-5, atol=1e-6)
    rel = (res.l2 - exact) / exact
    assert rel.min() > -1e-4  # never below the true minimum (it is feasible)
    assert rel.max() < 0.03  # within 3 %
    assert np.median(rel) < 0.005
    assert np.all(np.isfinite(res.lambdas))


def test_already_matching_pair_costs_nothing():
    x1 = torch.tensor([[0.9, 0.1]])
    res = cw_feature_attack(torch.nn.Identity(), x1, x1 * 2, T)
    assert res.success[0] and res.l2[0] == 0.0
    assert torch.equal(res.adversarial, x1)


def test_attack_reaches_threshold_through_random_linear_map_and_stays_in_box():
    g = torch.Generator().manual_seed(1)
    lin = torch.nn.Linear(10, 6, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(6, 10, generator=g))
    x1 = torch.rand(16, 10, generator=g)
    x2 = torch.rand(16, 10, generator=g)
    thr = 0.95
    res = cw_feature_attack(lin, x1, x2, thr, steps=150)
    assert res.success.all()
    adv = res.adversarial
    assert adv.shape == x1.shape
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
    with torch.no_grad():
        cos = torch.nn.functional.cosine_similarity(lin(adv), lin(x2), dim=1).numpy()
        cos0 = torch.nn.functional.cosine_similarity(lin(x1), lin(x2), dim=1).numpy()
    assert np.all(cos >= thr - 1e-6)
    assert np.all(np.isfinite(res.l2))
    np.testing.assert_array_equal(res.l2 > 0, cos0 < thr)  # zero exactly where it already matched
    assert (cos0 < thr).sum() >= 8
    # deterministic
    again = cw_feature_attack(lin, x1, x2, thr, steps=150)
    np.testing.assert_array_equal(again.l2, res.l2)
    assert torch.equal(again.adversarial, res.adversarial)
    # the model's parameters get no gradient
    assert lin.weight.grad is None


def test_unreachable_pair_is_reported_as_failure():
    # inside [0, 1]^2 no point has cosine >= 0.9 with (-1, 0): the second row must fail
    x1 = torch.tensor([[1.0, 0.2], [1.0, 0.0]])
    x2 = torch.tensor([[0.8, 1.0], [-1.0, 0.0]])
    res = cw_feature_attack(torch.nn.Identity(), x1, x2, 0.9, search_steps=4)
    assert res.success.tolist() == [True, False]
    assert math.isfinite(res.l2[0]) and math.isinf(res.l2[1])
    assert math.isnan(res.lambdas[1])
    assert torch.equal(res.adversarial[1], x1[1])


def _blobs(dim: int = 4, per_class: int = 3, n_classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.1, 0.9, size=(n_classes, dim))
    x = np.concatenate([c + rng.normal(0, 0.03, size=(per_class, dim)) for c in centres])
    labels = np.repeat(np.arange(n_classes) * 10, per_class)
    return torch.tensor(np.clip(x, 0, 1), dtype=torch.float32), labels


def test_robustness_index_matrix_and_mean():
    x, labels = _blobs()
    seen = []
    res = robustness_index(
        Centered(4),
        x,
        labels,
        T,
        pairs_per_class_pair=2,
        steps=200,
        search_steps=5,
        progress=lambda done, total: seen.append((done, total)),
        batch_size=5,
    )
    assert res.H.shape == (3, 3)
    assert res.attack_failures == 0
    assert np.all(np.isnan(np.diag(res.H)))
    assert list(res.classes) == [0, 10, 20]
    off = res.H[~np.eye(3, dtype=bool)]
    assert math.isclose(res.ri, float(np.mean(off[np.isfinite(off)])))
    assert res.attempts == 3 * 2 * 2 == len(res.l2) == len(res.success)
    assert res.attack_failures == int((~res.success).sum()) == int(res.failures.sum())
    assert seen[-1] == (12, 12) and len(seen) == 3
    # pairs are between the named classes
    assert np.all(labels[res.source_index] == res.classes[res.source_class])
    assert np.all(labels[res.target_index] == res.classes[res.target_class])
    assert np.all(res.source_class != res.target_class)
    # H[k, l] is the mean L2 of the successful attacks from k to l
    k, m = 1, 2
    sel = (res.source_class == k) & (res.target_class == m) & res.success
    assert math.isclose(res.H[k, m], float(res.l2[sel].mean()))
    # same seed, same result; other classes subset
    again = robustness_index(Centered(4), x, labels, T, pairs_per_class_pair=2, steps=200, search_steps=5)
    np.testing.assert_array_equal(again.H, res.H)
    sub = robustness_index(Centered(4), x, labels, T, classes=[20, 0], pairs_per_class_pair=1, steps=20)
    assert sub.H.shape == (2, 2) and list(sub.classes) == [20, 0]


def test_failures_are_counted_and_all_failed_entry_is_nan():
    # the third sample's features are (-1, 0), which no input of the box [0, 1]^2 reaches
    x = torch.tensor([[0.9, 0.1], [0.7, 0.3], [0.0, 0.0]])

    class Flagged(torch.nn.Module):
        def forward(self, inp):
            is_third = (inp.abs().sum(dim=1) == 0).unsqueeze(1)
            return torch.where(is_third, torch.tensor([-1.0, 0.0]), inp)

    res = robustness_index(Flagged(), x, [0, 1, 2], 0.99, pairs_per_class_pair=1, steps=100, search_steps=4)
    assert res.attempts == 6
    assert res.failures[0, 2] == 1 and res.failures[1, 2] == 1
    assert res.attack_failures == int(res.failures.sum()) >= 2
    assert math.isnan(res.H[0, 2]) and math.isnan(res.H[1, 2])
    assert math.isfinite(res.H[0, 1]) and math.isfinite(res.H[1, 0])
    off = res.H[~np.eye(3, dtype=bool)]
    assert math.isclose(res.ri, float(np.nanmean(off)))


def test_harder_model_has_larger_ri():
    # A shared feature bias makes everyone's features alike (cosines near 1), so less
    # movement reaches the threshold: the centred identity model is the harder one.
    x, labels = _blobs(seed=2)
    kw = dict(pairs_per_class_pair=2, steps=100, search_steps=6)
    hard = robustness_index(Centered(4), x, labels, T, **kw)
    easy = robustness_index(Centered(4, bias=1.0), x, labels, T, **kw)
    assert hard.attack_failures == 0 and easy.attack_failures == 0
    assert hard.ri > 1.5 * easy.ri


def test_thresholds_from_scores():
    gen = np.array([0.9, 0.8, 0.7, 0.4])
    imp = np.array([0.1, 0.2, 0.3, 0.5])
    t = eer_threshold(gen, imp)
    assert 0.3 <= t <= 0.7
    t0 = threshold_at_fmr(gen, imp, 0.0)
    assert t0 > 0.5 and np.mean(imp >= t0) == 0.0
    t25 = threshold_at_fmr(gen, imp, 0.25)
    assert t25 == 0.4 and np.mean(imp >= t25) <= 0.25
    thr, fmr, _ = det_curve(gen, imp)
    assert t25 in thr
    feats = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    g, i = cosine_scores(torch.tensor(feats), [0, 0, 1, 1])
    assert len(g) == 2 and len(i) == 4 and g.min() > i.max()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(threshold=1.5), "threshold"),
        (dict(threshold=float("nan")), "threshold"),
        (dict(box=(1.0, 0.0)), "box"),
        (dict(steps=0), "steps"),
        (dict(search_steps=-1), "search_steps"),
        (dict(lr=0.0), "lr"),
        (dict(initial_lambda=-1.0), "initial_lambda"),
        (dict(x2=torch.zeros(3, 2)), "x2"),
        (dict(x1=torch.full((2, 2), 2.0)), "x1"),
    ],
)
def test_attack_validation(kwargs, name):
    args = dict(model=torch.nn.Identity(), x1=torch.rand(2, 2), x2=torch.rand(2, 2), threshold=0.9)
    args.update(kwargs)
    with pytest.raises(InvalidArgument, match=name):
        cw_feature_attack(**args)


def test_index_validation():
    x, labels = _blobs()
    m = Centered(4)
    with pytest.raises(InvalidArgument, match="labels"):
        robustness_index(m, x, labels[:-1], T)
    with pytest.raises(InvalidArgument, match="pairs_per_class_pair"):
        robustness_index(m, x, labels, T, pairs_per_class_pair=0)
    with pytest.raises(InvalidArgument, match="classes"):
        robustness_index(m, x, labels, T, classes=[0])
    with pytest.raises(InvalidArgument, match="classes"):
        robustness_index(m, x, labels, T, classes=[0, 99])
    with pytest.raises(InvalidArgument, match="threshold"):
        robustness_index(m, x, labels, 2.0)
    with pytest.raises(InvalidArgument, match="target"):
        threshold_at_fmr([0.9], [0.1], 1.5)


def test_docstring_example_runs():
    import doctest

    import fuzzykey.robust.robustness as mod

    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0 and result.attempted > 0
