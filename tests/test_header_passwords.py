"""fuzzykey.header (the KeyGen header codec) and fuzzykey.passwords (scrypt and the password record)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from fuzzykey import BCHCode, FuzzyExtractor, KeyGen
from fuzzykey.errors import InvalidArgument, InvalidHelperData
from fuzzykey.header import (
    HEADER_FORMAT,
    HEADER_VERSION,
    check_public,
    encode_header,
    helper_pipeline,
    pipeline_fingerprint,
    read_helper_header,
)
from fuzzykey.passwords import SCRYPT_N_MAX, PasswordRecord, password_secret, valid_scrypt_n


def _helper(metadata: bytes) -> bytes:
    fe = FuzzyExtractor(BCHCode(6, 3))
    return fe.generate(np.zeros(63, np.uint8), metadata=metadata)[1].to_bytes()


FIELDS = {"mode": "face-only", "encoder": "e", "detector": "d", "binarizer": {"kind": "sign"}, "images": 1}


def test_encode_and_read_round_trip() -> None:
    raw = encode_header(FIELDS)
    assert json.loads(raw) == {"format": HEADER_FORMAT, "version": HEADER_VERSION, **FIELDS}
    assert raw == encode_header(dict(reversed(list(FIELDS.items()))))  # sorted: one encoding per header
    h, header = read_helper_header(_helper(raw))
    assert header["mode"] == "face-only" and h.n == 63
    assert helper_pipeline(h, header) == pipeline_fingerprint(
        "face-only", encoder="e", detector="d", binarizer={"kind": "sign"}, code=(6, 3, 63)
    )


@pytest.mark.parametrize(
    "metadata, message",
    [
        (b"\xff\xfe", "no KeyGen header"),
        (b"[1, 2]", "no KeyGen header"),
        (json.dumps({"format": "other", "version": 1}).encode(), "no KeyGen header"),
        (encode_header(FIELDS).replace(b'"version":1', b'"version":2'), "version 2 is not supported"),
        (encode_header({k: v for k, v in FIELDS.items() if k != "encoder"}), r"missing \['encoder'\]"),
        (encode_header({**FIELDS, "mode": "secret"}), r"missing \['nonce', 'selection'\]"),
        (encode_header({**FIELDS, "mode": "both"}), "unknown mode"),
        (encode_header({**FIELDS, "mode": ["secret"]}), "unknown mode"),
    ],
)
def test_malformed_headers_are_invalid_helper_data(metadata: bytes, message: str) -> None:
    with pytest.raises(InvalidHelperData, match=message):
        read_helper_header(_helper(metadata))


def test_check_public() -> None:
    assert check_public(None) is None
    assert check_public({"a": [1, "x"]}) == {"a": [1, "x"]}
    with pytest.raises(InvalidArgument, match="str keys"):
        check_public({1: 2})
    with pytest.raises(InvalidArgument, match="JSON values"):
        check_public({"a": float("nan")})
    with pytest.raises(InvalidArgument, match="at most 4096 bytes"):
        check_public({"a": "x" * 5000})


# --------------------------------------------------------------------------- passwords
def test_password_record_secret_is_scrypt_of_the_recorded_parameters() -> None:
    record = PasswordRecord(salt=bytes(range(16)), n=2**14, r=8, p=1)
    expected = hashlib.scrypt(b"pw", salt=bytes(range(16)), n=2**14, r=8, p=1, dklen=32)
    assert record.secret("pw") == expected == password_secret("pw", bytes(range(16)), n=2**14)
    assert record.secret("pw") != PasswordRecord(salt=bytes(16), n=2**14).secret("pw")


def test_password_record_json_round_trip_and_fresh_salts() -> None:
    a, b = PasswordRecord.new(2**14), PasswordRecord.new(2**14)
    assert len(a.salt) == 16 and a.salt != b.salt and a.n == 2**14 and (a.r, a.p) == (8, 1)
    assert PasswordRecord.from_json(a.to_json()) == a
    assert PasswordRecord.from_public({"password": a.to_json(), "other": 1}) == a
    assert PasswordRecord.from_public({"other": 1}) is None and PasswordRecord.from_public(None) is None
    with pytest.raises(InvalidArgument, match="power of two"):
        PasswordRecord.new(1000)


GOOD = {"salt": "00" * 16, "n": 2**14, "r": 8, "p": 1}


@pytest.mark.parametrize(
    "change",
    [
        {"salt": "00" * 15},  # too short
        {"salt": "zz" * 16},
        {"salt": 5},
        {"n": 1000},  # not a power of two
        {"n": 2 * SCRYPT_N_MAX},
        {"n": True},
        {"r": 0},
        {"r": 33},
        {"p": 17},
        {"n": SCRYPT_N_MAX, "r": 16},  # 2 GiB of memory: refused before any work
        {"n": 2**20, "r": 8},  # 1 GiB: 8x the default's memory
        {"n": 2**17, "r": 8, "p": 16},  # 16x the default's time
        {"n": 2**10},  # below the floor
    ],
)
def test_password_record_from_a_helper_is_bounded(change: dict[str, object]) -> None:
    with pytest.raises(InvalidHelperData, match="password parameters"):
        PasswordRecord.from_json({**GOOD, **change})
    with pytest.raises(InvalidHelperData):
        PasswordRecord.from_json("not a mapping")


def test_valid_scrypt_n() -> None:
    assert [n for n in (0, 1, 2, 3, 1024, 2**14, 2**20, 2**21) if valid_scrypt_n(n)] == [2**14, 2**20]


def test_keygen_keeps_the_password_record_in_the_helper() -> None:
    record = PasswordRecord.new(2**14)
    emb = np.random.default_rng(2).standard_normal(128).astype(np.float32)
    kg = KeyGen()
    key, helper = kg.enroll_embedding(emb, secret=record.secret("pw"), public={"password": record.to_json()})
    _, header = read_helper_header(helper)
    again = PasswordRecord.from_public(header["app"])
    assert again == record
    assert kg.reproduce_embedding(emb, helper, secret=again.secret("pw")) == key


# --------------------------------------------------------------------------- hostile headers
HOSTILE = [
    (b"[" * 100_000 + b"]" * 100_000, "nested more than 16 deep"),
    (b'{"format": "fuzzykey/keygen", "version": 1, "images": ' + b"9" * 5000 + b"}", "number of 5000"),
    (b'{"format": "fuzzykey/keygen", "version": 1, "images": 1e' + b"9" * 40 + b"}", "number of 42"),
    (b'{"format": "fuzzykey/keygen", "version": NaN}', "NaN"),
    (b'{"format": "fuzzykey/keygen", "version": -Infinity}', "-Infinity"),
    (b'{"a": "' + b"x" * (300 * 1024) + b'"}', "at most 262144"),
]


@pytest.mark.parametrize("metadata, message", HOSTILE)
def test_hostile_headers_are_invalid_helper_data(metadata: bytes, message: str) -> None:
    from fuzzykey.header import parse_header_json

    with pytest.raises(InvalidHelperData, match=message):
        read_helper_header(_helper(metadata))
    with pytest.raises(InvalidHelperData):
        parse_header_json(metadata)


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    from fuzzykey.header import MAX_DEPTH, parse_header_json

    deep_text = json.dumps({"s": "[" * 1000 + '\\"{' * 50})
    assert parse_header_json(deep_text.encode())["s"].startswith("[[[")
    nested: object = 1
    for _ in range(MAX_DEPTH):
        nested = [nested]
    assert parse_header_json(json.dumps(nested).encode()) == nested
    with pytest.raises(InvalidHelperData, match="nested"):
        parse_header_json(json.dumps([nested]).encode())


def test_public_fields_that_would_make_an_unreadable_header_are_refused() -> None:
    nested: object = "x"
    for _ in range(15):
        nested = [nested]
    with pytest.raises(InvalidArgument, match="nest at most 14 deep"):
        check_public({"a": nested})


@pytest.mark.parametrize(
    "n, r, p, message",
    [
        (2, 8, 1, r"n must be a power of two from 2\^14"),
        (2**14 + 1, 8, 1, "n must be a power of two"),
        (2**21, 8, 1, "n must be a power of two"),
        (2**14, 0, 1, "r must be an integer from 1 to 32"),
        (2**14, 8, 0, "p must be an integer from 1 to 16"),  # p = 0 would ignore salt and cost
        (2**14, 8, True, "p must be an integer"),
        (2**14, 8.0, 1, "r must be an integer"),
        (2**20, 16, 1, "2048 MiB"),
    ],
)
def test_password_secret_refuses_bad_costs(n: object, r: object, p: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        password_secret("pw", bytes(16), n=n, r=r, p=p)  # type: ignore[arg-type]


def test_p_zero_would_have_ignored_the_salt() -> None:
    """Why p = 0 is refused: pycryptodome's scrypt returns the same bytes for any salt."""
    from Crypto.Protocol.KDF import scrypt

    assert scrypt(b"pw", b"a" * 16, 32, N=2**14, r=8, p=0) == scrypt(b"pw", b"b" * 16, 32, N=2**14, r=8, p=0)
