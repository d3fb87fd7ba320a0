"""Robust embeddings as a library for torch users (needs ``fuzzykey[torch]``).

Layer rule: imports only the crypto core (:mod:`fuzzykey.ops` for sphere
sampling); the experiments that train and measure these models live in
:mod:`fuzzykey.evaluation`.

- :mod:`~fuzzykey.robust.dvsp`: the DVSP head of Xie et al. and its baselines
  (DVIB, center loss, SphereFace), backbones, FGSM and the adversarial training step.
- :mod:`~fuzzykey.robust.robustness`: the feature-space Carlini-Wagner attack and
  the robustness matrix H and index RI.
"""
