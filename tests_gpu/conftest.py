"""The GPU suite stops with an error, never skips, where there is no CUDA build or no GPU."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    import torch

    from fuzzykey import ops

    if not ops.cuda_built() or not torch.cuda.is_available():
        raise pytest.UsageError(
            "tests_gpu needs a CUDA build of fuzzykey (FUZZYKEY_CUDA=ON) and a GPU visible to torch; "
            f"cuda_built()={ops.cuda_built()}, torch.cuda.is_available()={torch.cuda.is_available()}"
        )
