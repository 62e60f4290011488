"""Experiments that hold theory against numbers and theory against practice.

Imports :mod:`theory` and :mod:`empirical`; they never import it. Also home of the ``tickets``
command line (:mod:`verify.cli`). Importing it first pins the instruction-set code paths of
torch, numpy and numba (:mod:`empirical.instruction_set`), so every ``tickets`` command, notebook
and cluster job computes the same bits on every x86-64 machine with AVX2.
"""

import empirical.instruction_set  # noqa: F401  (before anything loads torch, numpy or numba)
