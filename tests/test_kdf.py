"""fuzzykey.kdf: Argon2id parameters, output, limits.

Argon2id itself is argon2-cffi's. These tests check that fuzzykey calls it as
documented (type ID, version 1.3, the given parameters, 32 bytes) and that the
binding computes RFC 9106's published Argon2id test vector. argon2-cffi's
``hash_secret_raw`` has no arguments for Argon2's secret K and associated data
X, which that vector uses, so the vector goes through argon2-cffi's raw
``argon2_ctx`` binding (``argon2.low_level.core``) instead; the same binding,
with K and X empty, must agree with :meth:`Argon2id.derive`.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from argon2.low_level import ARGON2_VERSION, Type, core, ffi, hash_secret_raw, lib

import fuzzykey.kdf
from fuzzykey import FuzzyKeyError, InvalidArgument
from fuzzykey.kdf import STRETCHED_BYTES, Argon2id, KdfLimits


def argon2_ctx(
    password: bytes, salt: bytes, *, time_cost: int, memory_kib: int, lanes: int, length: int,
    secret: bytes = b"", ad: bytes = b"", kind: Type = Type.ID,
) -> bytes:
    """Argon2 through argon2-cffi's raw context binding (secret and associated data allowed)."""
    out = ffi.new("uint8_t[]", length)
    buffers = [ffi.new("uint8_t[]", x) if x else ffi.NULL for x in (password, salt, secret, ad)]
    ctx = ffi.new("argon2_context *", {
        "out": out, "outlen": length,
        "pwd": buffers[0], "pwdlen": len(password),
        "salt": buffers[1], "saltlen": len(salt),
        "secret": buffers[2], "secretlen": len(secret),
        "ad": buffers[3], "adlen": len(ad),
        "t_cost": time_cost, "m_cost": memory_kib, "lanes": lanes, "threads": lanes,
        "version": ARGON2_VERSION,
        "allocate_cbk": ffi.NULL, "free_cbk": ffi.NULL,
        "flags": lib.ARGON2_DEFAULT_FLAGS,
    })
    rc = core(ctx, kind.value)
    assert rc == lib.ARGON2_OK, rc
    return bytes(ffi.buffer(out, length))


def test_rfc9106_argon2id_vector() -> None:
    # RFC 9106, section 5.3: Argon2id, version 0x13.
    tag = argon2_ctx(
        b"\x01" * 32, b"\x02" * 16, secret=b"\x03" * 8, ad=b"\x04" * 12,
        time_cost=3, memory_kib=32, lanes=4, length=32,
    )
    assert tag.hex() == "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"
    assert ARGON2_VERSION == 0x13


@pytest.mark.parametrize(("t", "m", "p", "length"), [(1, 8, 1, 32), (3, 32, 4, 32), (2, 64, 1, 4),
                                                     (1, 16, 2, 77)])
def test_derive_is_argon2_cffi_argon2id(t: int, m: int, p: int, length: int) -> None:
    password, salt = b"packbits(w) || secret suffix", bytes(range(32))
    kdf = Argon2id(t, m, p)
    out = kdf.derive(password, salt, length)
    assert out == hash_secret_raw(password, salt, t, m, p, length, Type.ID)
    assert out == argon2_ctx(password, salt, time_cost=t, memory_kib=m, lanes=p, length=length)
    # and not Argon2i or Argon2d
    assert out != hash_secret_raw(password, salt, t, m, p, length, Type.I)
    assert out != hash_secret_raw(password, salt, t, m, p, length, Type.D)
    assert kdf.derive(bytearray(password), bytearray(salt), length) == out
    assert len(kdf.derive(password, salt)) == STRETCHED_BYTES == 32


def test_every_parameter_and_input_changes_the_output() -> None:
    base = Argon2id(1, 16, 1).derive(b"pw", b"saltsalt")
    others = [
        Argon2id(2, 16, 1).derive(b"pw", b"saltsalt"),
        Argon2id(1, 24, 1).derive(b"pw", b"saltsalt"),
        Argon2id(1, 16, 2).derive(b"pw", b"saltsalt"),
        Argon2id(1, 16, 1).derive(b"pX", b"saltsalt"),
        Argon2id(1, 16, 1).derive(b"pw", b"saltsalX"),
        Argon2id(1, 16, 1).derive(b"", b"saltsalt"),
    ]
    assert len({base, *others}) == 7


def test_default_cost() -> None:
    d = Argon2id.default()
    assert d == Argon2id(time_cost=3, memory_kib=65536, lanes=1)
    assert d.memory_kib >= 64 * 1024 and d.lanes == 1
    limits = KdfLimits.default()
    assert limits == KdfLimits() == KdfLimits(4 * d.time_cost, 4 * d.memory_kib, 8)
    assert limits.allows(d) and limits.allows(None)
    assert limits.allows(Argon2id(12, 256 * 1024, 8))
    for over, why in [
        (Argon2id(13, 64 * 1024, 1), "time_cost 13 exceeds the limit 12"),
        (Argon2id(1, 256 * 1024 + 1, 1), "memory 262145 KiB exceeds the limit 262144 KiB"),
        (Argon2id(1, 4 * 1024 * 1024, 1), "memory 4194304 KiB"),
        (Argon2id(1, 1024, 9), "lanes 9 exceeds the limit 8"),
        (Argon2id(1 << 31, 8, 1), "time_cost 2147483648"),
    ]:
        assert not limits.allows(over)
        assert why in (limits.excess(over) or "")
    assert limits.excess_of(12, 256 * 1024, 8) is None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"time_cost": 0, "memory_kib": 8, "lanes": 1},
     "time_cost must be between 1 and 4294967295 passes, got 0"),
    ({"time_cost": -1, "memory_kib": 8, "lanes": 1}, "time_cost must be between 1"),
    ({"time_cost": 1 << 32, "memory_kib": 8, "lanes": 1}, "time_cost must be between 1"),
    ({"time_cost": 1, "memory_kib": 7, "lanes": 1}, r"memory_kib must be between 8 \* lanes = 8 and"),
    ({"time_cost": 1, "memory_kib": 31, "lanes": 4}, r"8 \* lanes = 32 .* got 31"),
    ({"time_cost": 1, "memory_kib": 1 << 32, "lanes": 1}, "memory_kib must be between"),
    ({"time_cost": 1, "memory_kib": 8, "lanes": 0}, "lanes must be between 1 and 16777215, got 0"),
    ({"time_cost": 1, "memory_kib": 1 << 30, "lanes": 1 << 24}, "lanes must be between"),
    ({"time_cost": 1.0, "memory_kib": 8, "lanes": 1}, "time_cost must be an integer, got float"),
    ({"time_cost": True, "memory_kib": 8, "lanes": 1}, "time_cost must be an integer, got bool"),
    ({"time_cost": 1, "memory_kib": "64", "lanes": 1}, "memory_kib must be an integer, got str"),
    ({"time_cost": 1, "memory_kib": 8, "lanes": None}, "lanes must be an integer, got NoneType"),
])
def test_argon2id_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Argon2id(**kwargs)


def test_argon2id_is_a_frozen_value() -> None:
    a = Argon2id(np.int64(2), np.uint32(16), np.int8(1))
    assert a == Argon2id(2, 16, 1) and hash(a) == hash(Argon2id(2, 16, 1))
    assert type(a.time_cost) is int and type(a.memory_kib) is int and type(a.lanes) is int
    assert repr(a) == "Argon2id(time_cost=2, memory_kib=16, lanes=1)"
    assert pickle.loads(pickle.dumps(a)) == a
    with pytest.raises(AttributeError):
        a.time_cost = 5  # type: ignore[misc]


def test_derive_validation() -> None:
    kdf = Argon2id(1, 8, 1)
    with pytest.raises(InvalidArgument, match="password must be bytes, got str"):
        kdf.derive("hunter2", b"saltsalt")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="salt must be bytes, got str"):
        kdf.derive(b"x", "saltsalt")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="salt must be at least 8 bytes, got 7"):
        kdf.derive(b"x", b"1234567")
    for bad in (3, 0, -1):
        with pytest.raises(InvalidArgument, match=f"between 4 and 4294967295 bytes, got {bad}$"):
            kdf.derive(b"x", b"saltsalt", bad)
    with pytest.raises(InvalidArgument, match="length must be an integer"):
        kdf.derive(b"x", b"saltsalt", 32.0)  # type: ignore[arg-type]


def test_password_length_limit_without_allocating(monkeypatch) -> None:
    monkeypatch.setattr(fuzzykey.kdf, "_MAX_U32", 10)
    with pytest.raises(InvalidArgument, match="password must be at most 10 bytes, got 11") as exc:
        Argon2id(1, 8, 1).derive(b"secret-pass", b"saltsalt")
    assert "secret-pass" not in str(exc.value)


def test_library_failure_is_a_fuzzykey_error(monkeypatch) -> None:
    from argon2.exceptions import HashingError

    def fail(*args, **kwargs):
        raise HashingError("Memory allocation error")

    monkeypatch.setattr(fuzzykey.kdf, "hash_secret_raw", fail)
    with pytest.raises(FuzzyKeyError, match="Argon2id.*failed: Memory allocation error") as exc:
        Argon2id(1, 8, 1).derive(b"the password", b"saltsalt")
    assert "the password" not in str(exc.value)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"max_time_cost": 0}, "max_time_cost must be between 1 and"),
    ({"max_memory_kib": 7}, "max_memory_kib must be between 8 and"),
    ({"max_lanes": 0}, "max_lanes must be between 1 and"),
    ({"max_lanes": 1.5}, "max_lanes must be an integer"),
    ({"max_time_cost": "8"}, "max_time_cost must be an integer"),
])
def test_limits_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        KdfLimits(**kwargs)


def test_limits_admitting() -> None:
    big = Argon2id(20, 1 << 20, 16)
    raised = KdfLimits.admitting(big)
    assert raised == KdfLimits(20, 1 << 20, 16) and raised.allows(big)
    assert KdfLimits.admitting(None) == KdfLimits()
    assert KdfLimits.admitting(Argon2id(1, 8, 1)) == KdfLimits()
    tight = KdfLimits(1, 8, 1)
    assert KdfLimits.admitting(Argon2id(2, 8, 1), tight) == KdfLimits(2, 8, 1)
