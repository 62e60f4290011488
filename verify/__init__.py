"""Experiments that hold theory against numbers and theory against practice.

Imports :mod:`theory` and :mod:`empirical`; they never import it. Also home of the ``tickets``
command line (:mod:`verify.cli`).
"""
