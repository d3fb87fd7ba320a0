"""The ``fuzzykey`` command line: enroll a face, reproduce its key, inspect a helper, measure.

Usage (shell)::

    fuzzykey enroll alice1.jpg alice2.jpg --out alice.fkh --password   # prints the key in hex
    fuzzykey reproduce alice3.jpg --helper alice.fkh --password          # the same key, or exit 1
    fuzzykey enroll alice1.jpg --out alice.fkh --secret-file device.key --key-out alice.key
    fuzzykey info alice.fkh --json
    fuzzykey bench --json bench.json --plot det.png                    # key error rates on LFW
    fuzzykey robustness mnist|lfw                                      # DVSP experiments (torch)

The helper file is public; the key goes to stdout in hex or, with ``--key-out``,
to a new file of mode 0600. A secret (``--secret-file`` or ``--password``) is
strongly recommended: face-only keys are weak (see :class:`fuzzykey.KeyGen`).
Every error is one line on stderr (``fuzzykey: error: ...``) and a distinct exit
status: 1 key mismatch, 2 usage or bad input, 3 no face found, 4 bad helper
file or pipeline mismatch, 5 face models unavailable.

This is the only package that imports click. Modules: :mod:`~fuzzykey.cli.main`
(the group), :mod:`~fuzzykey.cli.errors` (exit codes: the one place where
exceptions become them), :mod:`~fuzzykey.cli.keys` (enroll, reproduce, info),
:mod:`~fuzzykey.cli.files` (bounded reads, safe writes), :mod:`~fuzzykey.cli.bench`
and :mod:`~fuzzykey.cli.experiments` (thin wrappers over :mod:`fuzzykey.evaluation`),
:mod:`~fuzzykey.cli.report` (progress bars on stderr).

Example:
    >>> import numpy as np
    >>> from click.testing import CliRunner
    >>> from fuzzykey import KeyGen
    >>> from fuzzykey.cli import main
    >>> emb = np.random.default_rng(0).standard_normal(128).astype(np.float32)
    >>> key, helper = KeyGen().enroll_embedding(emb, secret=bytes(range(32)))
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "alice.fkh")
    ...     _ = open(path, "wb").write(helper)
    ...     result = CliRunner().invoke(main, ["info", path])
    >>> result.exit_code
    0
    >>> print(result.output)  # doctest: +ELLIPSIS
    helper: ...alice.fkh (... bytes)
    format: helper data version 1, KeyGen header version 1
    mode: secret
    encoder: sface-2021dec-int8bq
    ...
    code: BCH(n=1023, k=123, t=155, m=10)
    key stretching: none
    key: 32 bytes (at most 123 bits of entropy given the helper)
    ...
    >>> key.hex() in result.output
    False
"""

from __future__ import annotations

from .main import main

__all__ = ["main"]
