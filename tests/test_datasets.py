"""fuzzykey.evaluation.datasets: image folders, LFW pairs files, and embed_files with its cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fuzzykey.errors import InvalidArgument
from fuzzykey.evaluation.datasets import (
    IMAGE_SUFFIXES,
    LfwPair,
    default_data_dir,
    embed_files,
    lfw_pair_paths,
    parse_lfw_pairs,
    read_image_folder,
    read_lfw_pairs,
)

PEOPLE = {"George_W_Bush": (1, 2), "Colin_Powell": (1, 2)}


@pytest.fixture(autouse=True)
def private_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("FUZZYKEY_CACHE", str(cache))
    return cache


@pytest.fixture
def small_lfw(tmp_path: Path, lfw_images: Path) -> Path:
    """2 people x 2 photos copied from LFW, plus things read_image_folder must skip."""
    root = tmp_path / "faces"
    for name, indices in PEOPLE.items():
        (root / name).mkdir(parents=True)
        for i in indices:
            file = f"{name}_{i:04d}.jpg"
            shutil.copyfile(lfw_images / name / file, root / name / file)
    (root / "George_W_Bush" / "notes.txt").write_text("not an image")
    (root / "George_W_Bush" / "folder.jpg").mkdir()  # a folder with an image suffix
    (root / "Empty_Person").mkdir()
    (root / "Only_Text").mkdir()
    (root / "Only_Text" / "readme.md").write_text("# nothing")
    shutil.copyfile(root / "Colin_Powell" / "Colin_Powell_0001.jpg", root / "stray.jpg")  # not in a subfolder
    return root


# --------------------------------------------------------------------------- read_image_folder


def test_read_image_folder(small_lfw: Path) -> None:
    shutil.copyfile(small_lfw / "Colin_Powell" / "Colin_Powell_0002.jpg",
                    small_lfw / "Colin_Powell" / "Colin_Powell_0003.JPG")  # suffix case ignored
    folder = read_image_folder(small_lfw)
    assert folder.root == small_lfw
    assert folder.people == ["Colin_Powell", "George_W_Bush"]
    assert [f.name for f in folder.files] == [
        "Colin_Powell_0001.jpg", "Colin_Powell_0002.jpg", "Colin_Powell_0003.JPG",
        "George_W_Bush_0001.jpg", "George_W_Bush_0002.jpg",
    ]
    for file, label in zip(folder.files, folder.labels, strict=True):
        assert file.parent.name == folder.people[label]
    np.testing.assert_array_equal(folder.labels, [0, 0, 0, 1, 1])
    assert folder.labels.dtype == np.int64
    assert read_image_folder(str(small_lfw)).files == folder.files


def test_read_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="does not exist") as info:
        read_image_folder(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value)
    file = tmp_path / "file.jpg"
    file.write_bytes(b"x")
    with pytest.raises(InvalidArgument, match="not a folder"):
        read_image_folder(file)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidArgument, match="has no images") as info:
        read_image_folder(empty)
    assert str(empty) in str(info.value)
    (empty / "A").mkdir()
    (empty / "A" / "a.txt").write_text("x")
    (empty / "loose.jpg").write_bytes(b"x")  # images must sit in per-person folders
    with pytest.raises(InvalidArgument, match="has no images"):
        read_image_folder(empty)


def test_image_suffixes() -> None:
    assert ".jpg" in IMAGE_SUFFIXES and ".png" in IMAGE_SUFFIXES
    assert all(s == s.lower() and s.startswith(".") for s in IMAGE_SUFFIXES)


# --------------------------------------------------------------------------- LFW pairs


def test_parse_lfw_pairs_valid() -> None:
    text = "2\nAbel_Pacheco\t1\t4\n  Aaron_Peirsol 3 4  \n\nAbel_Pacheco 1 Abdullah 12\nA_B 10 C_D 2\n"
    pairs = parse_lfw_pairs(text)
    assert pairs == [
        LfwPair("Abel_Pacheco", 1, "Abel_Pacheco", 4),
        LfwPair("Aaron_Peirsol", 3, "Aaron_Peirsol", 4),
        LfwPair("Abel_Pacheco", 1, "Abdullah", 12),
        LfwPair("A_B", 10, "C_D", 2),
    ]
    assert [p.genuine for p in pairs] == [True, True, False, False]
    assert parse_lfw_pairs("10 300\nX 1 2\n") == [LfwPair("X", 1, "X", 2)]  # View 2: "folds pairs"
    assert parse_lfw_pairs("0\n") == []


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("1\nAbel_Pacheco 1\n", 2, "expected 'name i j'"),
        ("1\nA 1 2\nA 1 B 2 C\n", 3, "expected 'name i j'"),
        ("1\nA 1 2\nB\n", 3, "expected 'name i j'"),
        ("1\nA one 2\n", 2, "expected 'name i j'"),
        ("1\nA 1 B 2.0\n", 2, "expected 'name i j'"),
        ("1\nA 1 2\nA 0 3\n", 3, "start at 1"),
        ("1\nA 2 B -1\n", 2, "start at 1"),
        ("Abel_Pacheco 1 4\n", 1, "pair count"),
        ("1100 pairs\nA 1 2\n", 1, "pair count"),
    ],
)
def test_parse_lfw_pairs_malformed(text: str, line: int, words: str) -> None:
    with pytest.raises(InvalidArgument, match=words) as info:
        parse_lfw_pairs(text, source="test pairs")
    assert f"test pairs line {line}:" in str(info.value)


def test_malformed_line_number_counts_blank_lines() -> None:
    """The line number in the message is the line in the file, blank lines included."""
    with pytest.raises(InvalidArgument) as info:
        parse_lfw_pairs("1\n\nA 1 2\n\n\nA x 2\n", source="p")
    assert "p line 6:" in str(info.value)


@pytest.mark.parametrize("text", ["", "\n\n", "   \n\t\n"])
def test_parse_lfw_pairs_empty(text: str) -> None:
    with pytest.raises(InvalidArgument, match="empty"):
        parse_lfw_pairs(text)


def test_real_pairs_file(lfw_root: Path) -> None:
    pairs = read_lfw_pairs(lfw_root / "pairsDevTrain.txt")
    assert len(pairs) == 2200
    genuine = [p for p in pairs if p.genuine]
    assert len(genuine) == 1100
    assert all(p.genuine for p in pairs[:1100]) and not any(p.genuine for p in pairs[1100:])
    images = lfw_root / "images"
    for pair in pairs:
        a, b = lfw_pair_paths(images, pair)
        assert a.is_file() and b.is_file(), pair
    assert pairs[0] == LfwPair("Aaron_Peirsol", 1, "Aaron_Peirsol", 2)


def test_read_lfw_pairs_errors(tmp_path: Path) -> None:
    missing = tmp_path / "pairs.txt"
    with pytest.raises(InvalidArgument, match="cannot be read") as info:
        read_lfw_pairs(missing)
    assert str(missing) in str(info.value)
    missing.write_bytes(b"1\nA \xff\xfe 2\n")
    with pytest.raises(InvalidArgument, match="cannot be read"):
        read_lfw_pairs(missing)
    missing.write_text("1\nA 1\n")
    with pytest.raises(InvalidArgument, match="line 2") as info:
        read_lfw_pairs(missing)
    assert str(missing) in str(info.value)


def test_lfw_pair_paths() -> None:
    a, b = lfw_pair_paths(Path("/x"), LfwPair("Ann", 3, "Bob_C", 1234))
    assert a == Path("/x/Ann/Ann_0003.jpg") and b == Path("/x/Bob_C/Bob_C_1234.jpg")


def test_default_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FUZZYKEY_DATA", str(tmp_path / "data"))
    assert default_data_dir() == tmp_path / "data"
    monkeypatch.delenv("FUZZYKEY_DATA")
    project = tmp_path / "work" / "project"
    (tmp_path / "work" / "shared" / "data").mkdir(parents=True)
    (project / "sub").mkdir(parents=True)
    monkeypatch.chdir(project / "sub")
    assert default_data_dir() == tmp_path / "work" / "shared" / "data"


# --------------------------------------------------------------------------- embed_files


class CountingDetector:
    """Wraps a detector and counts detect_and_align calls."""

    def __init__(self, inner, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or inner.name
        self.calls: list[Path] = []

    def detect_and_align(self, image):
        self.calls.append(Path(image))
        return self.inner.detect_and_align(image)


class ConstantEncoder:
    """128-D unit vectors that depend only on the crop's mean, under another name."""

    name = "constant-test-encoder"
    dim = 128
    input_size = 112

    def embed(self, faces):
        faces = np.asarray(faces)
        out = np.ones((len(faces), 128), np.float32)
        out[:, 0] += faces.reshape(len(faces), -1).mean(axis=1)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture
def file_list(small_lfw: Path, tmp_path: Path) -> list[Path]:
    """Four LFW photos, then a non-image, a blank image and a missing file."""
    Image = pytest.importorskip("PIL.Image")
    good = read_image_folder(small_lfw).files
    assert len(good) == 4
    not_image = tmp_path / "odd" / "notes.jpg"
    not_image.parent.mkdir()
    not_image.write_text("this is text, not a JPEG")
    blank = tmp_path / "odd" / "blank.png"
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(blank)
    return [*good, not_image, blank, tmp_path / "odd" / "missing.jpg"]


def test_embed_files_with_failures_and_cache(yunet, sface, file_list: list[Path], private_cache: Path,
                                             lfw_images: Path) -> None:
    pytest.importorskip("cv2")
    detector = CountingDetector(yunet)
    progress: list[int] = []
    first = embed_files(file_list, detector, sface, batch_size=3, progress=progress.append)
    n = len(file_list)
    assert first.embeddings.shape == (n, 128) and first.embeddings.dtype == np.float32
    np.testing.assert_array_equal(first.ok, [True] * 4 + [False] * 3)
    assert sorted(first.failures) == [4, 5, 6]
    assert str(file_list[4]) in first.failures[4]  # unreadable: the message names the file
    assert "no face" in first.failures[5] and str(file_list[5]) in first.failures[5]
    assert "cannot be read" in first.failures[6] and str(file_list[6]) in first.failures[6]
    assert np.all(np.isnan(first.embeddings[4:]))
    np.testing.assert_allclose(np.linalg.norm(first.embeddings[:4], axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(first.n_faces, [1, 1, 1, 1, 0, 0, 0])
    assert first.n_computed == 4
    assert sum(progress) == n
    assert set(first.seconds) == {"detection", "embedding"} and all(v >= 0 for v in first.seconds.values())
    assert len(detector.calls) == 6  # the missing file never reaches the detector

    # the same as detecting and embedding by hand
    crops = np.stack([yunet.detect_and_align(f).crop for f in file_list[:4]])
    np.testing.assert_allclose(first.embeddings[:4], sface.embed(crops), atol=1e-5, rtol=0)
    # the two photos of one person are closer than photos of two people
    e = first.embeddings
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2 and e[2] @ e[3] > e[1] @ e[3] + 0.2

    caches = list((private_cache / "embeddings").glob("*.npz"))
    assert len(caches) == 1 and sface.name in caches[0].name

    # second run: everything readable comes from the cache
    detector.calls.clear()
    progress.clear()
    second = embed_files(file_list, detector, sface, progress=progress.append)
    assert second.n_computed == 0
    np.testing.assert_array_equal(second.embeddings[:4], first.embeddings[:4])
    np.testing.assert_array_equal(second.ok, first.ok)
    np.testing.assert_array_equal(second.n_faces, first.n_faces)
    assert sorted(second.failures) == [4, 5, 6]
    assert sum(progress) == n
    assert sorted(detector.calls) == sorted(file_list[4:6])  # only the failures are retried

    # the cache is keyed by contents, not by name: a copy is a cache hit
    shutil.copyfile(file_list[3], file_list[1])
    copied = embed_files(file_list, detector, sface)
    assert copied.n_computed == 0
    np.testing.assert_array_equal(copied.embeddings[1], first.embeddings[3])

    # a changed file is embedded again; the rest still come from the cache
    new_photo = lfw_images / "George_W_Bush" / "George_W_Bush_0003.jpg"
    shutil.copyfile(new_photo, file_list[1])
    third = embed_files(file_list, detector, sface)
    assert third.n_computed == 1
    want = sface.embed(yunet.detect_and_align(new_photo).crop)[0]
    np.testing.assert_allclose(third.embeddings[1], want, atol=1e-5, rtol=0)
    assert abs(float(third.embeddings[1] @ first.embeddings[1])) < 0.999  # really another photo
    np.testing.assert_array_equal(third.embeddings[[0, 2, 3]], first.embeddings[[0, 2, 3]])

    # cache=False computes everything and leaves the cache file alone
    before = caches[0].read_bytes()
    fresh = embed_files(file_list[:4], detector, sface, cache=False)
    assert fresh.n_computed == 4
    np.testing.assert_allclose(fresh.embeddings, third.embeddings[:4], atol=1e-5, rtol=0)
    assert caches[0].read_bytes() == before


def test_embed_files_cache_is_keyed_by_detector_and_encoder(yunet, sface, file_list: list[Path],
                                                           private_cache: Path) -> None:
    files = file_list[:2]
    assert embed_files(files, yunet, sface).n_computed == 2
    assert embed_files(files, yunet, sface).n_computed == 0
    assert embed_files(files, CountingDetector(yunet, "another-detector"), sface).n_computed == 2
    other = embed_files(files, yunet, ConstantEncoder())
    assert other.n_computed == 2
    assert not np.allclose(other.embeddings, embed_files(files, yunet, sface).embeddings)
    assert len(list((private_cache / "embeddings").glob("*.npz"))) == 3


def test_embed_files_unreadable_cache_is_rebuilt(yunet, sface, file_list: list[Path],
                                                 private_cache: Path) -> None:
    files = file_list[:2]
    first = embed_files(files, yunet, sface)
    (cache,) = (private_cache / "embeddings").glob("*.npz")
    cache.write_bytes(b"PK\x03\x04 garbage")
    again = embed_files(files, yunet, sface)
    assert again.n_computed == 2
    np.testing.assert_allclose(again.embeddings, first.embeddings, atol=1e-6)
    assert embed_files(files, yunet, sface).n_computed == 0  # and it was written back


def test_embed_files_empty_and_all_failed(yunet, sface, file_list: list[Path]) -> None:
    none = embed_files([], yunet, sface)
    assert none.embeddings.shape == (0, 128) and none.ok.shape == (0,) and none.n_computed == 0
    bad = embed_files([str(f) for f in file_list[4:]], yunet, sface)
    assert not bad.ok.any() and sorted(bad.failures) == [0, 1, 2] and bad.n_computed == 0


def test_lfw_half_splits_lfw_dev_people_by_name_hash(lfw_images: Path):
    import hashlib

    from fuzzykey.evaluation.datasets import lfw_half

    def by_hash(name: str, encoding: str = "utf-8") -> str:
        return "a" if hashlib.sha256(name.encode(encoding)).digest()[0] < 128 else "b"

    people = sorted(p.name for p in lfw_images.iterdir() if p.is_dir())
    halves = [lfw_half(p) for p in people]
    # every person is in exactly one half, the one the first byte of SHA-256(name) says
    assert set(halves) == {"a", "b"}
    assert halves == [by_hash(p) for p in people]
    half_a = {p for p, h in zip(people, halves, strict=True) if h == "a"}
    half_b = {p for p, h in zip(people, halves, strict=True) if h == "b"}
    assert half_a.isdisjoint(half_b) and half_a | half_b == set(people)
    assert len(half_a) == 2062 and len(half_b) == 1976  # the split every figure cites
    # the docstring's example, and the byte that decides: 0x7f is "a", 0x80 is "b"
    assert (lfw_half("Aaron_Eckhart"), lfw_half("Aaron_Peirsol")) == ("a", "b")
    firsts = {p: hashlib.sha256(p.encode()).digest()[0] for p in people}
    edge = {v: p for p, v in firsts.items() if v in (127, 128)}
    assert {127, 128} <= edge.keys(), "LFW-dev has names whose hash starts with 0x7f and 0x80"
    assert (lfw_half(edge[127]), lfw_half(edge[128])) == ("a", "b")
    # names outside ASCII are hashed as UTF-8
    for name, latin1_half in (("Gérard_Depardieu", "b"), ("Björk", "a"), ("Renée_Zellweger", "b")):
        assert by_hash(name, "latin-1") == latin1_half != by_hash(name)  # the encodings disagree here
        assert lfw_half(name) == by_hash(name)
