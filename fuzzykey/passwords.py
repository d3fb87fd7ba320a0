"""Secrets from passwords: scrypt, and the password record a helper may carry.

A KeyGen secret must be at least 16 unpredictable bytes. A password is not:
:func:`password_secret` stretches it with scrypt (pycryptodome) under a salt,
so that every guess costs one scrypt. An application that enrolls with a
password stores the salt and the cost where it will find them again; the
``fuzzykey`` command line keeps them in the helper's public header as a
:class:`PasswordRecord` (``{"password": {"salt", "n", "r", "p"}}`` among the
application fields). Anyone holding such a helper can guess passwords offline
at one scrypt per guess: the record is public, the password is the secret.

Example:
    >>> from fuzzykey.passwords import PasswordRecord
    >>> record = PasswordRecord(salt=bytes(16), n=2**14)
    >>> secret = record.secret("correct horse")
    >>> len(secret), secret == record.secret("correct horse"), secret == record.secret("wrong")
    (32, True, False)
    >>> PasswordRecord.from_public({"password": record.to_json()}) == record
    True
    >>> PasswordRecord.from_public({"note": "no password here"}) is None
    True
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidArgument, InvalidHelperData

__all__ = [
    "SCRYPT_N_DEFAULT",
    "SCRYPT_N_MIN",
    "SCRYPT_N_MAX",
    "HELPER_COST_FACTOR",
    "SCRYPT_R",
    "SCRYPT_P",
    "SALT_BYTES",
    "password_secret",
    "valid_scrypt_n",
    "check_scrypt_cost",
    "PasswordRecord",
]

SCRYPT_N_DEFAULT = 2**17
SCRYPT_N_MIN = 2**14  # 16 MiB with r = 8: below it a guess costs next to nothing
SCRYPT_N_MAX = 2**20  # with r = 8: 1 GiB of memory
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
#: A helper may ask for at most this multiple of the default cost, in memory and in time.
HELPER_COST_FACTOR = 4
_MAX_MEMORY = 2**30  # scrypt needs 128 * n * r bytes
_DEFAULT_WORK = SCRYPT_N_DEFAULT * SCRYPT_R * SCRYPT_P
_SALT_HEX = re.compile(r"(?:[0-9a-f]{2}){16,64}")


def password_secret(password: str | bytes, salt: bytes, *, n: int = 2**17, r: int = 8, p: int = 1) -> bytes:
    """A 32-byte secret from a password, stretched with scrypt (pycryptodome).

    ``salt`` (at least 16 bytes, unique per user, stored by the application)
    keeps equal passwords apart. The cost (n = 2^17, r = 8: ~128 MiB and a few
    tenths of a second) is what slows an offline guesser who holds the helper;
    :func:`check_scrypt_cost` says what is accepted.

    Raises:
        InvalidArgument: an empty password, a salt under 16 bytes, or a cost
            out of bounds.
    """
    from Crypto.Protocol.KDF import scrypt

    check_scrypt_cost(n, r, p)
    pw = password.encode("utf-8") if isinstance(password, str) else password
    if not isinstance(pw, bytes) or not pw:
        raise InvalidArgument("password must be a non-empty str or bytes")
    if not isinstance(salt, bytes) or len(salt) < 16:
        raise InvalidArgument(
            f"salt must be at least 16 bytes, got {len(salt) if isinstance(salt, bytes) else salt!r}"
        )
    out = scrypt(pw, salt, 32, N=n, r=r, p=p)
    return out if isinstance(out, bytes) else out[0]


def valid_scrypt_n(n: Any) -> bool:
    """Whether ``n`` is an accepted scrypt cost: a power of two from 2^14 to 2^20."""
    if not isinstance(n, int) or isinstance(n, bool):
        return False
    return SCRYPT_N_MIN <= n <= SCRYPT_N_MAX and n & (n - 1) == 0


def check_scrypt_cost(n: Any, r: Any, p: Any) -> None:
    """Refuse scrypt parameters outside what fuzzykey accepts.

    ``n`` a power of two from 2^14 to 2^20, ``r`` from 1 to 32, ``p`` from 1 to
    16, and at most 1 GiB of memory (128 n r bytes). pycryptodome itself accepts
    p = 0, which ignores the salt and the cost: never let it through.

    Raises:
        InvalidArgument: naming the bad value.
    """
    if not valid_scrypt_n(n):
        raise InvalidArgument(f"scrypt n must be a power of two from 2^14 to 2^20, got {n!r}")
    if not _small_int(r, 32):
        raise InvalidArgument(f"scrypt r must be an integer from 1 to 32, got {r!r}")
    if not _small_int(p, 16):
        raise InvalidArgument(f"scrypt p must be an integer from 1 to 16, got {p!r}")
    if 128 * n * r > _MAX_MEMORY:
        raise InvalidArgument(f"scrypt n = {n}, r = {r} needs {128 * n * r >> 20} MiB; at most 1024 MiB")


def _small_int(v: Any, top: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= top


@dataclass(frozen=True)
class PasswordRecord:
    """The public scrypt parameters of a password-derived secret (nothing in it is secret)."""

    salt: bytes
    n: int = SCRYPT_N_DEFAULT
    r: int = SCRYPT_R
    p: int = SCRYPT_P

    @classmethod
    def new(cls, n: int = SCRYPT_N_DEFAULT) -> PasswordRecord:
        """A record with a fresh random salt and cost ``n`` (see :func:`check_scrypt_cost`)."""
        check_scrypt_cost(n, SCRYPT_R, SCRYPT_P)
        return cls(os.urandom(SALT_BYTES), n)

    def secret(self, password: str | bytes) -> bytes:
        """The 32-byte secret for ``password`` (:func:`password_secret` with this record)."""
        return password_secret(password, self.salt, n=self.n, r=self.r, p=self.p)

    def to_json(self) -> dict[str, Any]:
        """The record as JSON values, as stored under ``"password"`` in a helper's app fields."""
        return {"salt": self.salt.hex(), "n": self.n, "r": self.r, "p": self.p}

    @classmethod
    def from_json(cls, value: Any) -> PasswordRecord:
        """Parse :meth:`to_json` output read from a helper; every cost is bounded.

        The parameters are unauthenticated until the key comes out, so a helper
        may ask for at most :data:`HELPER_COST_FACTOR` times the default cost,
        in memory (128 n r bytes) and in time (n r p); above that it is refused
        at once, before any scrypt runs.

        Raises:
            InvalidHelperData: malformed fields, or a cost over the bound.
        """
        bad = InvalidHelperData("the helper's password parameters (salt, n, r, p) are malformed")
        if not isinstance(value, Mapping):
            raise bad
        fields: dict[str, Any] = {name: value.get(name) for name in ("salt", "n", "r", "p")}
        salt_hex, n, r, p = fields["salt"], fields["n"], fields["r"], fields["p"]
        if not isinstance(salt_hex, str) or not _SALT_HEX.fullmatch(salt_hex):
            raise bad
        if not (valid_scrypt_n(n) and _small_int(r, 32) and _small_int(p, 16)):
            raise bad
        record = cls(bytes.fromhex(salt_hex), n, r, p)
        if record.n * record.r > HELPER_COST_FACTOR * SCRYPT_N_DEFAULT * SCRYPT_R:
            raise bad
        if record.n * record.r * record.p > HELPER_COST_FACTOR * _DEFAULT_WORK:
            raise bad
        return record

    @classmethod
    def from_public(cls, app: Any) -> PasswordRecord | None:
        """The record in a helper's application fields (``header["app"]``), or None if it has none."""
        if not isinstance(app, Mapping) or "password" not in app:
            return None
        return cls.from_json(app["password"])
