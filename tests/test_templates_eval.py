"""fuzzykey.evaluation.templates_eval: image metrics, splits, crop cache, inversion, the evaluation runner.

References are independent: SSIM against scikit-image's ``structural_similarity``,
PSNR against the numpy formula and scikit-image, error rates recomputed from SFace
embeddings of crops aligned here with :func:`fuzzykey.evaluation.metrics.eer`, the
split against SHA-256 of the names. The face tests use a few real LFW-dev photos of
half-A and half-B people and tiny or untrained generators.
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
import torch
from conftest import copy_lfw_people
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from fuzzykey.errors import InvalidArgument, ModelError, NoFaceFound
from fuzzykey.evaluation.datasets import LfwPair, lfw_half, read_image_folder
from fuzzykey.evaluation.linkability import dsys
from fuzzykey.evaluation.metrics import cosine_scores, eer, fnmr_at_fmr
from fuzzykey.evaluation.templates_eval import (
    DEFAULT_WEIGHTS,
    VALIDATION_BYTE,
    EvalConfig,
    EvalFigures,
    InversionConfig,
    aligned_crops,
    evaluate_templates,
    face_detected,
    format_eval_table,
    load_weights,
    plot_templates,
    protect_photos,
    psnr,
    reconstruct,
    select_photos,
    ssim,
    template_split,
    train_inverter,
    train_templates,
)
from fuzzykey.templates import TrainConfig, UNetGenerator, protect_faces

torch.set_num_threads(1)

# train: Tony_Blair, George_W_Bush; validation: Angelina_Jolie; test (half B): the others
PEOPLE = {"Tony_Blair": 3, "George_W_Bush": 3, "Angelina_Jolie": 2, "Colin_Powell": 3, "Ariel_Sharon": 2,
          "Hugo_Chavez": 2, "Al_Gore": 2}
TEST_PEOPLE = ["Al_Gore", "Ariel_Sharon", "Colin_Powell", "Hugo_Chavez"]


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return float(structural_similarity(a, b, channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False, data_range=255))


# --------------------------------------------------------------------------- SSIM and PSNR


@pytest.mark.parametrize("shape", [(2, 112, 112, 3), (1, 23, 40, 3), (3, 11, 11, 1)])
def test_ssim_matches_scikit_image(shape) -> None:
    rng = np.random.default_rng(sum(shape))
    x = rng.integers(0, 256, shape, dtype=np.uint8)
    # a mix of noise, a brightness shift and a smoothed copy
    y = np.clip(0.7 * x + rng.normal(20, 25, shape), 0, 255).astype(np.uint8)
    got = ssim(x, y)
    assert got.shape == (shape[0],)
    np.testing.assert_allclose(got, [skimage_ssim(a, b) for a, b in zip(x, y, strict=True)], rtol=1e-9)
    np.testing.assert_allclose(ssim(x, x), 1.0)
    assert ssim(x[0], y[0]).shape == (1,)  # one (H, W, C) image


def test_ssim_on_faces_and_chunks(lfw_images, yunet) -> None:
    files = [lfw_images / "Colin_Powell" / f"Colin_Powell_{i:04d}.jpg" for i in (1, 2, 3)]
    crops = np.stack([yunet.detect_and_align(f).crop for f in files])
    blurred = np.stack([np.asarray(Image.fromarray(c).resize((28, 28)).resize((112, 112))) for c in crops])
    want = [skimage_ssim(a, b) for a, b in zip(crops, blurred, strict=True)]
    np.testing.assert_allclose(ssim(crops, blurred, chunk=2), want, rtol=1e-9)
    assert all(0.2 < v < 0.95 for v in want)
    # two different people's crops are less alike than a crop and its blur
    assert ssim(crops[:1], crops[1:2])[0] < min(want)


def test_ssim_and_psnr_reject_bad_input() -> None:
    x = np.zeros((2, 16, 16, 3), np.uint8)
    with pytest.raises(InvalidArgument, match=r"\(2, 16, 16, 3\) and \(2, 16, 15, 3\)"):
        ssim(x, x[:, :, :15])
    with pytest.raises(InvalidArgument, match=r"H, W >= 11, got shape \(2, 8, 8, 3\)"):
        ssim(x[:, :8, :8], x[:, :8, :8])
    with pytest.raises(InvalidArgument, match="data_range must be a positive number, got 0"):
        psnr(x, x, data_range=0)
    with pytest.raises(InvalidArgument, match="numeric"):
        psnr(x.astype(str), x.astype(str))


def test_psnr_matches_the_formula_and_scikit_image() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (4, 20, 30, 3), dtype=np.uint8)
    y = x.copy()
    sigma = np.array([5.0, 20.0, 60.0])[:, None, None, None]
    y[1:] = np.clip(x[1:] + rng.normal(0, sigma, x[1:].shape), 0, 255).astype(np.uint8)
    got = psnr(x, y)
    for i in range(1, 4):
        mse = np.mean((x[i].astype(np.float64) - y[i].astype(np.float64)) ** 2)
        assert math.isclose(got[i], 10 * math.log10(255.0**2 / mse), rel_tol=1e-12)
        assert math.isclose(got[i], peak_signal_noise_ratio(x[i], y[i], data_range=255), rel_tol=1e-9)
    assert got[0] == math.inf  # equal images
    assert got[1] > got[2] > got[3]


# --------------------------------------------------------------------------- splits


def test_template_split_follows_sha256(lfw_images) -> None:
    names = sorted(p.name for p in lfw_images.iterdir() if p.is_dir())
    counts = {"train": 0, "validation": 0, "test": 0}
    for name in names:
        digest = hashlib.sha256(name.encode()).digest()
        want = "test" if digest[0] >= 128 else ("validation" if digest[1] < VALIDATION_BYTE else "train")
        assert template_split(name) == want
        assert (want == "test") == (lfw_half(name) == "b")
        counts[want] += 1
    half_a = counts["train"] + counts["validation"]
    assert 0.07 < counts["validation"] / half_a < 0.13  # about 10 % of half A validate
    with pytest.raises(InvalidArgument, match="got int"):
        template_split(3)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def folder_path(tmp_path_factory):
    return copy_lfw_people(tmp_path_factory.mktemp("lfw") / "images", PEOPLE)


def test_select_photos(folder_path) -> None:
    folder = read_image_folder(folder_path)
    names = [folder.people[folder.labels[i]] for i in range(len(folder.files))]
    test = select_photos(folder, {"test"})
    assert sorted({names[i] for i in test}) == TEST_PEOPLE and len(test) == 9
    assert [names[i] for i in select_photos(folder, {"validation"})] == ["Angelina_Jolie"] * 2
    assert len(select_photos(folder, {"train", "validation"})) == 8
    # people in SHA-256 order of their names, each with their first photos
    order = sorted(TEST_PEOPLE, key=lambda n: hashlib.sha256(n.encode()).digest())
    five = select_photos(folder, {"test"}, max_photos=5)
    taken = [folder.files[i].name for i in five]
    expected = []
    for person in order:
        expected += [f"{person}_{k:04d}.jpg" for k in range(1, PEOPLE[person] + 1)]
    assert sorted(taken) == sorted(expected[:5])
    one_each = select_photos(folder, {"test"}, max_per_person=1)
    assert sorted(folder.files[i].name for i in one_each) == [f"{p}_0001.jpg" for p in TEST_PEOPLE]
    assert np.all(np.diff(five) > 0)
    with pytest.raises(InvalidArgument, match="'half'"):
        select_photos(folder, {"half"})  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="max_photos must be a positive int or None, got 0"):
        select_photos(folder, {"test"}, max_photos=0)


# --------------------------------------------------------------------------- crops and detection


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FUZZYKEY_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_aligned_crops_cache(folder_path, yunet, cache, tmp_path) -> None:
    files = [folder_path / "Colin_Powell" / f"Colin_Powell_{i:04d}.jpg" for i in (1, 2)]
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((120, 120, 3), 128, np.uint8)).save(blank)
    missing = tmp_path / "missing.jpg"
    first = aligned_crops([*files, blank, missing], yunet)
    assert first.ok.tolist() == [True, True, False, False] and first.n_computed == 3
    assert "no face" in first.failures[2] and "cannot be read" in first.failures[3]
    for i, f in enumerate(files):
        np.testing.assert_array_equal(first.crops[i], yunet.detect_and_align(f).crop)
    assert not first.crops[2:].any()
    stored = sorted((cache / "crops").rglob("*.npy"))
    assert len(stored) == 3  # two crops and the no-face marker, named by the files' SHA-256
    digest = hashlib.sha256(files[0].read_bytes()).hexdigest()
    assert any(p.name == f"{digest}.npy" and p.parent.name == digest[:2] for p in stored)
    for p in stored:
        arr = np.load(p, allow_pickle=False)
        assert arr.dtype == np.uint8 and arr.shape[1:] == (112, 112, 3) and len(arr) <= 1
    again = aligned_crops([*files, blank, missing], yunet)
    assert again.n_computed == 0 and again.ok.tolist() == first.ok.tolist()
    np.testing.assert_array_equal(again.crops, first.crops)
    # a damaged cache file is recomputed, not trusted; a copy of a file hits the cache
    damaged = next(p for p in stored if p.name == f"{digest}.npy")
    damaged.write_bytes(b"junk")
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(files[1].read_bytes())
    third = aligned_crops([files[0], copy], yunet)
    assert third.n_computed == 1
    np.testing.assert_array_equal(third.crops, first.crops[:2])
    uncached = aligned_crops([files[0]], yunet, cache=False)
    assert uncached.n_computed == 1


def test_face_detected_on_crops(folder_path, yunet) -> None:
    crops = np.stack([yunet.detect_and_align(folder_path / "Al_Gore" / f"Al_Gore_{i:04d}.jpg").crop
                      for i in (1, 2)])
    grey = np.full((2, 112, 112, 3), 128, np.uint8)
    assert face_detected(crops, yunet).tolist() == [True, True]
    assert face_detected(crops, yunet, pad=0).tolist() == [True, True]
    assert face_detected(grey, yunet).tolist() == [False, False]
    with pytest.raises(InvalidArgument, match="pad must be an int >= 0, got -1"):
        face_detected(crops, yunet, pad=-1)


def test_protect_photos(folder_path, yunet) -> None:
    net = UNetGenerator(4, 3, generator=seeded(0))
    with torch.no_grad():
        net.head.weight.normal_(0.0, 0.3, generator=seeded(1))  # visibly changes the crops
    files = [folder_path / "Hugo_Chavez" / f"Hugo_Chavez_{i:04d}.jpg" for i in (1, 2)]
    crops = np.stack([yunet.detect_and_align(f).crop for f in files])
    out = protect_photos([str(f) for f in files], net, detector=yunet)
    np.testing.assert_array_equal(out, protect_faces(net, crops))
    assert out.shape == (2, 112, 112, 3) and np.abs(out.astype(int) - crops).mean() > 5
    np.testing.assert_array_equal(protect_photos(list(crops), net, aligned=True), out)
    one = protect_photos(crops[0], net, aligned=True)  # batch of one: float rounding may differ by 1
    assert one.shape == (1, 112, 112, 3) and np.abs(one.astype(int) - out[:1]).max() <= 1
    blank = np.full((200, 200, 3), 90, np.uint8)
    with pytest.raises(NoFaceFound):
        protect_photos([str(files[0]), blank], net, detector=yunet)
    with pytest.raises(InvalidArgument, match="detector"):
        protect_photos([str(files[0])], net)
    with pytest.raises(InvalidArgument, match=r"112x112, got shape \(1, 64, 64, 3\)"):
        protect_photos([crops[0, :64, :64]], net, aligned=True)
    with pytest.raises(InvalidArgument, match="UNetGenerator, got str"):
        protect_photos([str(files[0])], "net", detector=yunet)  # type: ignore[arg-type]


def test_load_weights(tmp_path, monkeypatch) -> None:
    from fuzzykey.evaluation import templates_eval
    from fuzzykey.templates import save_generator

    monkeypatch.setattr(templates_eval, "DEFAULT_WEIGHTS", tmp_path / "gone.npz")
    with pytest.raises(ModelError, match="packaged template generator .*gone.npz.* is missing"):
        load_weights(None)
    save_generator(tmp_path / "g.npz", UNetGenerator(4, 2, generator=seeded(0)), {"note": "test"})
    net, meta, where = load_weights(tmp_path / "g.npz")
    assert net.config() == {"width": 4, "depth": 2} and meta["provenance"] == {"note": "test"}
    assert where == tmp_path / "g.npz"


# --------------------------------------------------------------------------- inversion


def test_train_inverter_learns_an_inverse() -> None:
    x = np.random.default_rng(0).integers(0, 256, (16, 16, 16, 3), dtype=np.uint8)
    x = np.repeat(np.repeat(x[:, ::4, ::4], 4, axis=1), 4, axis=2)  # smooth-ish blocks
    protected = (x // 2).astype(np.uint8)  # half as bright: the inverse doubles
    config = InversionConfig(width=4, depth=2, epochs=5, batch_size=8, learning_rate=0.03, seed=1)
    seen = []
    net, history = train_inverter(protected, x, config, on_epoch=lambda *a: seen.append(a))
    assert [h["epoch"] for h in history] == list(range(1, 6)) and len(seen) == 5
    assert history[0]["l1"] > 0.2  # starts near the identity, far from the inverse
    assert history[-1]["l1"] < 0.7 * history[0]["l1"]
    recon = reconstruct(net, protected)
    assert np.abs(recon.astype(float) - x).mean() / 255 < np.abs(protected.astype(float) - x).mean() / 255
    again, _ = train_inverter(protected, x, config)
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), again.parameters(), strict=True))
    with pytest.raises(InvalidArgument, match="one shape"):
        train_inverter(protected, x[:8], config)
    with pytest.raises(InvalidArgument, match="width must be an int in \\[1, 256\\], got 0"):
        InversionConfig(width=0)
    with pytest.raises(InvalidArgument, match="learning_rate must be a number in \\(0, 1\\], got 2"):
        InversionConfig(learning_rate=2)


def test_eval_config_checks() -> None:
    with pytest.raises(InvalidArgument, match="impostors must be an int in .*, got 0"):
        EvalConfig(impostors=0)
    with pytest.raises(InvalidArgument, match="target_fmr must be a number in \\(0, 1\\], got 0"):
        EvalConfig(target_fmr=0)
    with pytest.raises(InvalidArgument, match="InversionConfig or None, got dict"):
        EvalConfig(inversion={})  # type: ignore[arg-type]
    assert EvalConfig(inversion=None).to_dict()["inversion"] is None


# --------------------------------------------------------------------------- the runner


@pytest.fixture(scope="module")
def sface(face_cache_dir):
    """SFace on one onnxruntime thread."""
    from fuzzykey.face.encoders import SFaceEncoder

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FUZZYKEY_CACHE", str(face_cache_dir))
        return SFaceEncoder(threads=1)


@pytest.fixture(scope="module")
def shared_cache(face_cache_dir):
    """The crop cache of this module's runner tests (one detection per photo)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FUZZYKEY_CACHE", str(face_cache_dir))
        yield face_cache_dir


def _test_crops(folder_path, yunet):
    folder = read_image_folder(folder_path)
    rows = select_photos(folder, {"test"})
    crops = np.stack([yunet.detect_and_align(folder.files[i]).crop for i in rows])
    return crops, folder.labels[rows]


def test_evaluate_untrained_generator_matches_independent_figures(folder_path, yunet, sface,
                                                                   shared_cache) -> None:
    net = UNetGenerator(4, 2, generator=seeded(0))  # untrained: nearly the identity
    config = EvalConfig(impostors=10_000, examples=3,
                        inversion=InversionConfig(width=4, depth=2, epochs=1, batch_size=4, max_photos=6))
    lines = []
    doc, figures = evaluate_templates(folder_path, net, sface, yunet, config, log=lines.append)
    assert doc["data"]["photos"] == 9 and doc["data"]["people"] == 4 and doc["data"]["without_face"] == 0
    crops, labels = _test_crops(folder_path, yunet)
    e_x = sface.embed(crops)
    e_g = sface.embed(protect_faces(net, crops))
    gen, imp = cosine_scores(e_x, labels)
    assert doc["sface"]["genuine_pairs"] == len(gen) == 6
    assert doc["sface"]["impostor_pairs"] == 2 * len(imp) == 60  # every ordered pair
    assert math.isclose(doc["sface"]["eer"], eer(gen, imp), abs_tol=1e-12)
    assert math.isclose(doc["sface"]["fnmr_at_fmr_0.001"], fnmr_at_fmr(gen, imp, 1e-3), abs_tol=1e-12)
    # G(x_i) against x_j on the same pairs, recomputed
    same = labels[:, None] == labels[None, :]
    upper = np.triu(np.ones_like(same), k=1).astype(bool)
    cross = e_g.astype(np.float64) @ e_x.astype(np.float64).T
    pvo_gen, pvo_imp = cross[same & upper], cross[~same]
    assert math.isclose(doc["protected_vs_original"]["eer"], eer(pvo_gen, pvo_imp), abs_tol=1e-9)
    pp = e_g.astype(np.float64) @ e_g.astype(np.float64).T
    assert math.isclose(doc["dsys"], dsys(pp[same & upper], pp[~same]), abs_tol=1e-9)
    # an untrained G barely changes the crops
    assert doc["ssim"] > 0.99 and doc["psnr"] > 40
    assert doc["face_detected_rate"] == doc["face_detected_rate_original"] == 1.0
    inv = doc["inversion"]
    assert inv["train_photos"] == 6 and inv["threshold_fmr"] == 1e-3
    assert 0.0 <= inv["match_rate"] <= 1.0 and inv["ssim"] > 0.9 and len(inv["history"]) == 1
    assert doc["images_per_s"] > 0 and doc["seconds"]["total"] > 0
    json.dumps(doc, allow_nan=False)  # JSON-ready
    assert figures.originals.shape == (3, 112, 112, 3) and figures.reconstructed is not None
    assert [c["label"] for c in figures.curves][:3] == ["SFace x vs x'", "G(x) vs x'", "G(x) vs G(x')"]
    assert any("test set: 9 crops" in line for line in lines)
    table = format_eval_table(doc)
    assert "protected_vs_protected" in table and "inversion" in table


def test_evaluate_a_destructive_generator(folder_path, yunet, sface, shared_cache, tmp_path) -> None:
    net = UNetGenerator(4, 2, generator=seeded(0))
    with torch.no_grad():
        net.head.bias.fill_(8.0)  # tanh(8) ~ 1: every pixel goes to white
    doc, figures = evaluate_templates(folder_path, net, sface, yunet, EvalConfig(inversion=None, examples=2))
    assert np.all(figures.protected >= 254)
    assert doc["face_detected_rate"] == 0.0 and doc["face_detected_rate_original"] == 1.0
    assert doc["ssim"] < 0.5 and doc["psnr"] < 12  # flat, bright parts of a face still look alike
    # all templates alike: they match everyone (EER 0.5) and link nothing beyond chance
    assert doc["protected_vs_protected"]["eer"] == pytest.approx(0.5, abs=0.01)
    assert doc["sface"]["eer"] < 0.2
    assert doc["inversion"] is None and figures.reconstructed is None
    out = plot_templates(figures, tmp_path / "t.png", title="white")
    with Image.open(out) as img:
        assert img.format == "PNG" and img.size[0] > img.size[1] > 300
    with pytest.raises(InvalidArgument, match="EvalFigures"):
        plot_templates({}, tmp_path / "x.png")  # type: ignore[arg-type]


def test_evaluate_with_a_pairs_list(folder_path, yunet, sface, shared_cache) -> None:
    pairs = [LfwPair("Colin_Powell", 1, "Colin_Powell", 3), LfwPair("Al_Gore", 1, "Al_Gore", 2),
             LfwPair("Tony_Blair", 1, "Tony_Blair", 2),  # half A: left out
             LfwPair("Colin_Powell", 2, "Hugo_Chavez", 1), LfwPair("Ariel_Sharon", 1, "Al_Gore", 2),
             LfwPair("Tony_Blair", 1, "Al_Gore", 1)]  # half A: left out
    net = UNetGenerator(4, 2, generator=seeded(0))
    doc, _ = evaluate_templates(folder_path, net, sface, yunet, EvalConfig(inversion=None), pairs=pairs)
    assert doc["sface"]["genuine_pairs"] == 2 and doc["sface"]["impostor_pairs"] == 2
    assert doc["data"]["photos"] == 7
    with pytest.raises(InvalidArgument, match="Al_Gore_0009.jpg"):
        evaluate_templates(folder_path, net, sface, yunet, EvalConfig(inversion=None),
                           pairs=[LfwPair("Al_Gore", 1, "Al_Gore", 9)])
    with pytest.raises(InvalidArgument, match="0 genuine and 2 impostor"):
        evaluate_templates(folder_path, net, sface, yunet, EvalConfig(inversion=None), pairs=pairs[3:5])


def test_evaluate_with_a_second_generator(folder_path, yunet, sface, shared_cache) -> None:
    """G(x_i) against G2(x_j): the rates and D<->sys recomputed from the two sets of templates."""
    net = UNetGenerator(4, 2, generator=seeded(0))
    other = UNetGenerator(4, 2, generator=seeded(1))
    with torch.no_grad():
        other.head.weight.normal_(0.0, 0.3, generator=seeded(2))  # visibly another generator
    doc, figures = evaluate_templates(folder_path, net, sface, yunet, EvalConfig(inversion=None),
                                      second_generator=other)
    crops, labels = _test_crops(folder_path, yunet)
    e_g, e_g2 = sface.embed(protect_faces(net, crops)), sface.embed(protect_faces(other, crops))
    assert not np.allclose(e_g, e_g2, atol=1e-3)
    same = labels[:, None] == labels[None, :]
    upper = np.triu(np.ones_like(same), k=1).astype(bool)
    cross = e_g.astype(np.float64) @ e_g2.astype(np.float64).T
    gen, imp = cross[same & upper], cross[~same]
    got = doc["cross_generator"]
    assert got["genuine_pairs"] == len(gen) == 6 and got["impostor_pairs"] == len(imp) == 60
    assert math.isclose(got["eer"], eer(gen, imp), abs_tol=1e-9)
    assert math.isclose(got["dsys"], dsys(gen, imp), abs_tol=1e-9)
    assert got["generator"]["config"] == {"width": 4, "depth": 2}
    assert figures.curves[-1]["label"] == "G(x) vs G2(x')"
    assert "second generator G2" in format_eval_table(doc)
    plain, _ = evaluate_templates(folder_path, net, sface, yunet, EvalConfig(inversion=None))
    assert plain["cross_generator"] is None and "second generator" not in format_eval_table(plain)
    with pytest.raises(InvalidArgument, match="second_generator must be a UNetGenerator or None, got str"):
        evaluate_templates(folder_path, net, sface, yunet, EvalConfig(inversion=None),
                           second_generator="g2")  # type: ignore[arg-type]


def test_train_templates_on_half_a(folder_path, yunet, sface, shared_cache) -> None:
    config = TrainConfig(width=4, depth=2, epochs=1, batch_size=4, learning_rate=0.01, seed=0)
    lines = []
    result, prov = train_templates(folder_path, config, sface.torch_module(), yunet, encoder_name=sface.name,
                                   command="fuzzykey templates train", log=lines.append)
    data = prov["data"]
    assert (data["train_people"], data["train_photos"]) == (2, 6)  # Tony_Blair, George_W_Bush
    assert (data["validation_people"], data["validation_photos"]) == (1, 2)  # Angelina_Jolie
    assert prov["hyper_parameters"] == config.to_dict() and prov["encoder"] == sface.name
    assert len(prov["history"]) == 1 and prov["history"][0]["val_cosine"] is not None
    assert prov["command"] == "fuzzykey templates train" and prov["detector"].startswith("yunet")
    assert result.generator.config() == {"width": 4, "depth": 2}
    assert any(line.startswith("epoch 1/1") for line in lines)
    json.dumps(prov, allow_nan=False)
    capped, prov2 = train_templates(folder_path, config, sface.torch_module(), yunet, max_photos=2,
                                    max_validation_photos=1)
    assert prov2["data"]["train_photos"] == 2 and prov2["data"]["validation_photos"] == 1
    assert prov2["encoder"] == "Normalized"  # the module's class when no name is given


def test_runner_errors(tmp_path, yunet, sface) -> None:
    only_a = copy_lfw_people(tmp_path / "a", {"Tony_Blair": 2})
    net = UNetGenerator(4, 2)
    with pytest.raises(InvalidArgument, match="no test \\(half-B\\) photos"):
        evaluate_templates(only_a, net, sface, yunet, EvalConfig(inversion=None))
    only_b = copy_lfw_people(tmp_path / "b", {"Al_Gore": 2, "Colin_Powell": 1})
    with pytest.raises(InvalidArgument, match="no half-A photos"):
        evaluate_templates(only_b, net, sface, yunet, EvalConfig(inversion=InversionConfig(max_photos=2)))
    with pytest.raises(InvalidArgument, match="no photos of training people"):
        train_templates(only_b, TrainConfig(width=4, depth=2, epochs=1), torch.nn.Identity(), yunet)
    with pytest.raises(InvalidArgument, match="EvalConfig, got dict"):
        evaluate_templates(only_b, net, sface, yunet, {})  # type: ignore[arg-type]


def test_plot_without_reconstructions(tmp_path) -> None:
    grey = np.full((1, 112, 112, 3), 100, np.uint8)
    fig = EvalFigures(grey, 255 - grey, None,
                      [{"label": "a", "fmr": np.array([1.0, 0.0]), "fnmr": np.array([0.0, 1.0])}])
    out = plot_templates(fig, str(tmp_path / "p.png"))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- the shipped generator


def test_shipped_weights_record_how_they_were_made() -> None:
    net, meta, where = load_weights(None)
    assert where == DEFAULT_WEIGHTS and DEFAULT_WEIGHTS.stat().st_size < 100_000  # float16, compact
    prov = meta["provenance"]
    # trained by the command it records, with today's defaults: the command reproduces it
    assert prov["command"].startswith("fuzzykey templates train ")
    assert prov["hyper_parameters"] == TrainConfig().to_dict()
    assert net.config() == {"width": TrainConfig().width, "depth": TrainConfig().depth}
    assert prov["encoder"].startswith("sface") and prov["detector"].startswith("yunet")
    data = prov["data"]
    assert "half A" in data["split"] and "half B is never used" in data["split"]
    assert data["train_photos"] > 4000 and data["validation_photos"] > 200 and data["max_photos"] is None
    assert len(prov["history"]) == TrainConfig().epochs
    assert prov["seconds"] < 3600 and prov["torch_threads"] <= 2  # under an hour on two cores


def test_shipped_generator_on_half_b_photos(lfw_images, yunet, sface) -> None:
    """Two photos each of eight half-B people the generator never saw: the templates look
    nothing like the photos by SSIM, yet each still finds its person among the photos."""
    folder = read_image_folder(lfw_images)
    people = [p for p in folder.people if template_split(p) == "test"
              and len(list((lfw_images / p).glob("*.jpg"))) >= 2][:8]
    first = [sorted((lfw_images / p).glob("*.jpg"))[0] for p in people]
    second = [sorted((lfw_images / p).glob("*.jpg"))[1] for p in people]
    net, _, _ = load_weights(None)
    x1 = np.stack([yunet.detect_and_align(f).crop for f in first])
    x2 = np.stack([yunet.detect_and_align(f).crop for f in second])
    g1 = protect_faces(net, x1)
    assert ssim(g1, x1).mean() < 0.5
    e_g, e_x1, e_x2 = sface.embed(g1), sface.embed(x1), sface.embed(x2)
    assert (e_g * e_x1).sum(axis=1).mean() > 0.6  # its own photo
    # the template against the person's *other* photo: top-1 among the eight people
    hits = (np.argmax(e_g @ e_x2.T, axis=1) == np.arange(8)).sum()
    assert hits >= 7, hits
