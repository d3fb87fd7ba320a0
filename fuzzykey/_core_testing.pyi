"""Type stubs of ``fuzzykey._core.testing`` (bindings/testing.cpp): test hooks, not API.

A stub only: at run time the submodule is the attribute ``fuzzykey._core.testing``
(``from fuzzykey._core import testing``); there is no module ``fuzzykey._core_testing``.
"""

def philox4x32_10(counter: list[int], key: list[int]) -> list[int]: ...
def normal4(seed: int, row: int, sample: int, block: int) -> list[float]: ...
