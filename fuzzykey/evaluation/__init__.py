"""The evaluation layer: how well KeyGen's keys work and how well they hold up, measured on data.

It sits above the key pipeline (:class:`fuzzykey.KeyGen`, the binarizers, the
helper header) and below the command line: it uses the public names of the
layers under it and knows nothing of click; :mod:`fuzzykey.cli` and
``benchmarks/`` call its runners and print what they return. Importing this
package imports none of its modules; the robustness experiments need torch.

Building blocks:

- :mod:`.datasets`: face sets on disk (image folders, LFW pairs files) and cached embeddings.
- :mod:`.embeddings_file`: embeddings of a whole face set as a Parquet file (``fuzzykey embed``).
- :mod:`.pairs`: which comparisons to make: genuine and impostor index pairs from labels.
- :mod:`.distances`: Hamming distances of enrolled and probe bits, as KeyGen computes them.
- :mod:`.operating_points`: FRR and FAR for every BCH t, and the operating point quoted.
- :mod:`.realpath`: keys through KeyGen itself: enroll, reproduce, count the keys.
- :mod:`.throughput`: photos per second through each stage of KeyGen.
- :mod:`.metrics`: error rates (EER, FNMR at FMR, DET) and information figures.
- :mod:`.attacks`: structural, dictionary and guesswork attacks on helper data, and leakage.
- :mod:`.zlbench`: zero-leakage keys on a face set: FRR, every other person's photo, FRR over k.
- :mod:`.linkability`: unlinkability (D<->sys) of two helpers of one person.
- :mod:`.plots`: DET curves (and FRR against security bits) as PNG files.
- :mod:`.progress`: progress and log strategies the runners report through.

Runners (one experiment each, returning its JSON document):

- :mod:`.keybench`: ``fuzzykey bench``, key error rates and security figures on a face set.
- :mod:`.robustness_mnist`: ``fuzzykey robustness mnist``, DVSP and baselines on MNIST.
- :mod:`.robustness_lfw`: ``fuzzykey robustness lfw``, a DVSP head on SFace, on LFW.
- :mod:`.templates_eval`: ``fuzzykey templates train|eval``, ``fuzzykey protect``: cancelable face templates.
"""
