"""KeyGen's modes: zero-leakage face-only and two-factor, the secret mode, the default, old helpers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fuzzykey import InvalidArgument, KeyGen, KeyMismatch, PipelineMismatch
from fuzzykey.facekeys import ZeroLeakageKeys, read_zero_leakage_header
from fuzzykey.helper import HelperData
from fuzzykey.kdf import Argon2id
from fuzzykey.keygen import DEFAULT_SECRET_MODE

VECTORS = Path(__file__).parent / "vectors" / "keygen_v1_helpers.json"
SECRET = bytes(range(100, 132))


@pytest.fixture(scope="module")
def kg() -> KeyGen:
    return KeyGen(zero_leakage=ZeroLeakageKeys(kdf=Argon2id(1, 64, 1)))


def person(kg: KeyGen, seed: int, noise: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """An enrollment embedding and a probe drawn from the transform's genuine model."""
    rng = np.random.default_rng(seed)
    t = kg.zero_leakage.transform
    pinv = np.linalg.pinv(t.matrix)
    z = rng.standard_normal(t.n_coords)
    r = t.rho_for(1)
    zp = r * z + noise * np.sqrt(1 - r * r) * rng.standard_normal(t.n_coords)
    return (pinv @ z + t.mean).astype(np.float32), (pinv @ zp + t.mean).astype(np.float32)


def test_old_helpers_keep_reproducing(kg: KeyGen) -> None:
    doc = json.loads(VECTORS.read_text())
    assert {h["mode"] for h in doc["helpers"]} == {"face-only", "secret"}
    for item in doc["helpers"]:
        secret = None if item["secret_hex"] is None else bytes.fromhex(item["secret_hex"])
        probe = np.array(item["probe"], dtype=np.float32)
        helper = bytes.fromhex(item["helper_hex"])
        assert kg.reproduce_embedding(probe, helper, secret=secret).hex() == item["key_hex"]
        assert KeyGen().reproduce_embeddings(probe[None], helper, secret=secret)[0].hex() == item["key_hex"]


def test_face_only_is_zero_leakage(kg: KeyGen) -> None:
    enrol, probe = person(kg, 1)
    enrollment = kg.enroll_embedding(enrol, public={"user": "alice"})
    key, helper = enrollment
    h, header = read_zero_leakage_header(helper, 128)
    assert header.mode == "face-only" and header.app == {"user": "alice"} and h.code_kind == "linear"
    assert enrollment.security.mode == "face-only" and enrollment.security.code_k_bits == 16
    assert kg.reproduce_embedding(probe, helper) == key
    other, _ = person(kg, 2)
    with pytest.raises(KeyMismatch):
        kg.reproduce_embedding(other, helper)
    with pytest.raises(PipelineMismatch, match="secret"):
        kg.reproduce_embedding(probe, helper, secret=SECRET)


def test_two_factor(kg: KeyGen) -> None:
    enrol, probe = person(kg, 3)
    enrollment = kg.enroll_embedding(enrol, secret=SECRET, mode="two-factor")
    key, helper = enrollment
    assert read_zero_leakage_header(helper, 128)[1].mode == "two-factor"
    assert enrollment.security.mode == "two-factor" and enrollment.security.code_k_bits == 16
    assert kg.reproduce_embedding(probe, helper, secret=SECRET) == key
    with pytest.raises(KeyMismatch):  # the face without the secret
        kg.reproduce_embedding(probe, helper, secret=bytes(32))
    with pytest.raises(PipelineMismatch, match="secret"):
        kg.reproduce_embedding(probe, helper)
    # another enrollment of the same face and secret: another nonce, another transformation
    key2, helper2 = kg.enroll_embedding(enrol, secret=SECRET, mode="two-factor")
    assert key2 != key and read_zero_leakage_header(helper2, 128)[1].nonce != read_zero_leakage_header(
        helper, 128)[1].nonce


def test_default_modes(kg: KeyGen) -> None:
    enrol, probe = person(kg, 4)
    assert DEFAULT_SECRET_MODE == "secret"
    _, helper = kg.enroll_embedding(enrol, secret=SECRET)
    assert json.loads(HelperData.from_bytes(helper).metadata)["mode"] == "secret"
    _, helper = kg.enroll_embedding(enrol)
    assert json.loads(HelperData.from_bytes(helper).metadata)["format"] == "fuzzykey/zeroleak"


@pytest.mark.parametrize(
    "mode, secret, match",
    [("face-only", SECRET, "takes no secret"), ("two-factor", None, "needs a secret"),
     ("secret", None, "needs a secret"), ("both", SECRET, "mode must be")],
)
def test_mode_and_secret_must_agree(kg: KeyGen, mode: str, secret: bytes | None, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        kg.enroll_embedding(np.ones(128, np.float32), secret=secret, mode=mode)  # type: ignore[arg-type]


def test_security_of_each_mode(kg: KeyGen) -> None:
    for mode in ("face-only", "two-factor"):
        est = kg.security(mode)
        assert est.mode == mode and est.code_k_bits == 16 and est.code_n == 128
        assert "linear [128, 16]" in str(est) and est.notes
    assert "Secret stolen too" in kg.security("two-factor").notes
    assert kg.security("secret").code_k_bits == 123


def test_measured_zero_leakage_figures_ship_with_the_package() -> None:
    # fuzzykey/data/security_zl_v1.json is written by benchmarks/zero_leakage.py --write-security; its
    # pipelines must be the default KeyGen's, or KeyGen.security reports nothing measured for them.
    for mode in ("face-only", "two-factor"):
        measured = KeyGen().security(mode).measured
        wanted = {"frr", "n_genuine", "impostor_keys", "n_impostor", "far_bits_95", "command"}
        assert wanted <= measured.keys()
        assert measured["frr"] <= 0.10 and measured["n_impostor"] >= 190_000
    # another code dimension is another pipeline: nothing measured is claimed for it
    assert KeyGen(zero_leakage=ZeroLeakageKeys(k=20)).security("face-only").measured == {}


def test_replace_rebuilds_the_default_zero_leakage_scheme() -> None:
    kg = KeyGen()
    assert kg.zero_leakage.extractor.key_bytes == 32  # built on first use
    short = kg.replace(key_bytes=16)
    assert short.zero_leakage.extractor.key_bytes == 16 and short.zero_leakage is not kg.zero_leakage
    given = ZeroLeakageKeys(kdf=Argon2id(1, 64, 1))
    assert KeyGen(zero_leakage=given).replace(info=b"x").zero_leakage is given
