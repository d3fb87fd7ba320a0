"""``fuzzykey protect`` and ``fuzzykey templates train|eval`` on a few LFW-dev photos.

Tiny generators (width 4, depth 2) and one epoch: the point is the plumbing (files,
options, provenance, JSON, exit codes); the measurements themselves are checked in
test_templates_eval.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import copy_lfw_people
from PIL import Image

from fuzzykey.cli import main
from fuzzykey.cli.templates import TRAIN_DEFAULTS
from fuzzykey.evaluation.templates_eval import DEFAULT_WEIGHTS, protect_photos
from fuzzykey.templates import TrainConfig, UNetGenerator, load_generator, save_generator

torch.set_num_threads(1)

PEOPLE = {"Tony_Blair": 3, "George_W_Bush": 2, "Angelina_Jolie": 2, "Colin_Powell": 3, "Al_Gore": 2,
          "Hugo_Chavez": 2}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return copy_lfw_people(tmp_path_factory.mktemp("lfw") / "images", PEOPLE)


@pytest.fixture(scope="module")
def env(face_cache_dir):
    """The session's model and crop cache; no default data folder to fall back on."""
    return {"FUZZYKEY_CACHE": str(face_cache_dir), "OPENCV_LOG_LEVEL": "ERROR"}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    net = UNetGenerator(4, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        net.head.weight.normal_(0.0, 0.3, generator=torch.Generator().manual_seed(1))
    path = tmp_path_factory.mktemp("weights") / "g.npz"
    save_generator(path, net, {"note": "test generator"})
    return path


def run(args, env):
    return CliRunner().invoke(main, args, env=env)


def error_line(result, code: int) -> str:
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    lines = [line for line in result.output.splitlines() if line.startswith("fuzzykey: error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_help_lists_the_commands(env) -> None:
    result = run(["--help"], env)
    assert result.exit_code == 0 and "protect" in result.output and "templates" in result.output
    result = run(["templates", "--help"], env)
    assert result.exit_code == 0 and "train" in result.output and "eval" in result.output
    result = run(["templates", "train", "--help"], env)
    assert "--max-photos" in result.output and "--edge-weight" in result.output


def test_train_defaults_are_train_configs() -> None:
    assert TRAIN_DEFAULTS == TrainConfig().to_dict()


def test_protect_writes_templates(images, weights, env, tmp_path, yunet) -> None:
    photos = [images / "Colin_Powell" / "Colin_Powell_0001.jpg", images / "Al_Gore" / "Al_Gore_0002.jpg"]
    out = tmp_path / "out"
    result = run(["protect", *map(str, photos), "--out", str(out), "--weights", str(weights),
                  "--threads", "1"], env)
    assert result.exit_code == 0, result.output
    written = [out / "Colin_Powell_0001.png", out / "Al_Gore_0002.png"]
    assert result.output.split() == list(map(str, written))
    net, _ = load_generator(weights)
    want = protect_photos([str(p) for p in photos], net, detector=yunet)
    for path, template in zip(written, want, strict=True):
        with Image.open(path) as img:
            assert img.format == "PNG" and img.mode == "RGB"
            np.testing.assert_array_equal(np.asarray(img), template)  # PNG is lossless
    # again: the files exist
    line = error_line(run(["protect", str(photos[0]), "--out", str(out), "--weights", str(weights)], env), 2)
    assert "exists; pass --force" in line
    assert run(["protect", str(photos[0]), "--out", str(out), "--weights", str(weights), "--force"],
               env).exit_code == 0
    # aligned crops in, no detection: a template's crop protected again
    crop = tmp_path / "crop.png"
    Image.fromarray(yunet.detect_and_align(photos[0]).crop).save(crop)
    result = run(["protect", str(crop), "--aligned", "--out", str(tmp_path / "al"),
                  "--weights", str(weights)], env)
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "al" / "crop.png") as img:
        assert np.abs(np.asarray(img).astype(int) - want[0]).max() <= 1  # batch of one: rounding


def test_protect_errors(images, weights, env, tmp_path) -> None:
    photo = images / "Colin_Powell" / "Colin_Powell_0001.jpg"
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 200, 3), 90, np.uint8)).save(blank)
    out = tmp_path / "out"
    line = error_line(run(["protect", str(photo), str(blank), "--out", str(out), "--weights", str(weights)],
                          env), 3)
    assert "blank.png" in line
    assert not out.exists() or not any(out.iterdir())  # nothing written
    line = error_line(run(["protect", str(tmp_path / "nope.jpg"), "--out", str(out), "--weights",
                           str(weights)], env), 2)
    assert "nope.jpg" in line
    same_stem = tmp_path / "x" / "Colin_Powell_0001.jpg"
    same_stem.parent.mkdir()
    same_stem.write_bytes(photo.read_bytes())
    line = error_line(run(["protect", str(photo), str(same_stem), "--out", str(out), "--weights",
                           str(weights)], env), 2)
    assert "would both be written" in line
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"junk")
    line = error_line(run(["protect", str(photo), "--out", str(out), "--weights", str(bad)], env), 5)
    assert "bad.npz" in line


def test_protect_uses_the_shipped_generator(images, env, tmp_path, yunet, monkeypatch) -> None:
    photo = images / "Colin_Powell" / "Colin_Powell_0001.jpg"
    result = run(["protect", str(photo), "--out", str(tmp_path / "out"), "--threads", "1"], env)
    assert result.exit_code == 0, result.output
    net, _ = load_generator(DEFAULT_WEIGHTS)
    with Image.open(tmp_path / "out" / "Colin_Powell_0001.png") as img:
        np.testing.assert_array_equal(np.asarray(img), protect_photos([str(photo)], net, detector=yunet)[0])
    from fuzzykey.evaluation import templates_eval

    monkeypatch.setattr(templates_eval, "DEFAULT_WEIGHTS", tmp_path / "gone.npz")
    line = error_line(run(["protect", str(photo), "--out", str(tmp_path / "o2")], env), 5)
    assert "packaged template generator" in line and "gone.npz" in line


def test_train_writes_weights_with_provenance(images, env, tmp_path) -> None:
    out = tmp_path / "g.npz"
    args = ["templates", "train", "--images", str(images), "--out", str(out), "--width", "4", "--depth", "2",
            "--epochs", "1", "--batch-size", "4", "--lr", "0.01", "--margin", "0.2", "--threads", "1"]
    result = run(args, env)
    assert result.exit_code == 0, result.output
    assert "epoch 1/1" in result.output and f"wrote {out}" in result.output
    net, meta = load_generator(out)
    assert net.config() == {"width": 4, "depth": 2}
    prov = meta["provenance"]
    assert prov["data"]["train_photos"] == 5 and prov["data"]["train_people"] == 2  # Blair, Bush
    assert prov["data"]["validation_photos"] == 2  # Angelina_Jolie
    assert prov["data"]["images"] == str(images)
    assert prov["hyper_parameters"] == {**TRAIN_DEFAULTS, "width": 4, "depth": 2, "epochs": 1,
                                        "batch_size": 4, "learning_rate": 0.01, "margin": 0.2}
    assert len(prov["history"]) == 1 and prov["encoder"].startswith("sface")
    assert prov["command"].startswith(f"fuzzykey templates train --images {images} --out {out} --width 4 ")
    assert "--max-validation-photos 256" in prov["command"] and "--force" not in prov["command"]
    # --data is the same option; an existing file needs --force
    assert "exists; pass --force" in error_line(run([*args[:2], "--data", *args[3:]], env), 2)
    usage = run([*args, "--force", "--max-photos", "0"], env)
    assert usage.exit_code == 2 and "'--max-photos': 0 is not in the range" in usage.output
    missing = error_line(run(["templates", "train", "--images", str(tmp_path / "none"), "--out",
                              str(tmp_path / "h.npz")], env), 2)
    assert "none" in missing


def test_eval_writes_json_and_plot(images, weights, env, tmp_path) -> None:
    js, png = tmp_path / "e.json", tmp_path / "e.png"
    args = ["templates", "eval", "--images", str(images), "--weights", str(weights), "--json", str(js),
            "--plot", str(png), "--threads", "1", "--inversion-width", "4", "--inversion-depth", "2",
            "--inversion-epochs", "1", "--inversion-max-photos", "4", "--examples", "3"]
    result = run(args, env)
    assert result.exit_code == 0, result.output
    doc = json.loads(js.read_text())
    for key in ("ssim", "psnr", "face_detected_rate", "dsys", "images_per_s"):
        assert isinstance(doc[key], float), key
    for name in ("sface", "protected_vs_original", "protected_vs_protected"):
        assert 0.0 <= doc[name]["eer"] <= 1.0 and 0.0 <= doc[name]["fnmr_at_fmr_0.001"] <= 1.0
        assert doc[name]["genuine_pairs"] == 3 + 1 + 1  # Colin_Powell 3 photos, Al_Gore 2, Hugo_Chavez 2
    assert 0.0 <= doc["inversion"]["match_rate"] <= 1.0 and 0.0 < doc["inversion"]["ssim"] <= 1.0
    assert doc["inversion"]["train_photos"] == 4
    assert doc["generator"]["weights"] == str(weights)
    assert doc["generator"]["provenance"] == {"note": "test generator"}
    assert doc["command"].startswith(f"fuzzykey templates eval --images {images} --weights {weights}")
    assert doc["data"]["photos"] == 7 and doc["data"]["pairs_file"] is None
    assert "protected_vs_original" in result.output and "D<->sys" in result.output
    with Image.open(png) as img:
        assert img.format == "PNG"
    assert "exists; pass --force" in error_line(run(args, env), 2)


def test_eval_with_pairs_and_skip_inversion(images, weights, env, tmp_path) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("2\nColin_Powell\t1\t2\nTony_Blair\t1\t2\nAl_Gore\t1\tHugo_Chavez\t2\n")
    js = tmp_path / "p.json"
    result = run(["templates", "eval", "--images", str(images), "--weights", str(weights),
                  "--pairs", str(pairs), "--skip-inversion", "--json", str(js), "--threads", "1"], env)
    assert result.exit_code == 0, result.output
    doc = json.loads(js.read_text())
    assert doc["inversion"] is None and doc["data"]["pairs_file"] == str(pairs)
    assert doc["sface"]["genuine_pairs"] == 1 and doc["sface"]["impostor_pairs"] == 1
    assert doc["cross_generator"] is None
    # a second generator: its templates against the first's, with the weight file's provenance
    js2 = tmp_path / "p2.json"
    result = run(["templates", "eval", "--images", str(images), "--weights", str(weights), "--second-weights",
                  str(DEFAULT_WEIGHTS), "--pairs", str(pairs), "--skip-inversion", "--json", str(js2),
                  "--threads", "1"], env)
    assert result.exit_code == 0, result.output
    cross = json.loads(js2.read_text())["cross_generator"]
    assert cross["genuine_pairs"] == 1 and cross["generator"]["weights"] == str(DEFAULT_WEIGHTS)
    assert cross["generator"]["provenance"]["command"].startswith("fuzzykey templates train")
    assert "second generator G2" in result.output
    assert "--second-weights" in json.loads(js2.read_text())["command"]
    line = error_line(run(["templates", "eval", "--images", str(images), "--weights", str(weights),
                           "--second-weights", str(tmp_path / "nope.npz"), "--skip-inversion"], env), 5)
    assert "nope.npz" in line
    pairs.write_text("1\nColin_Powell\tone\t2\n")
    line = error_line(run(["templates", "eval", "--images", str(images), "--weights", str(weights),
                           "--pairs", str(pairs), "--skip-inversion"], env), 2)
    assert "'Colin_Powell\\tone\\t2'" in line or "Colin_Powell" in line
