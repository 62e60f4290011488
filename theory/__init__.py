"""Constructive strong lottery tickets: numpy/scipy/sympy only, never torch.

Networks are bias-free ReLU networks stored as lists of float64 weight matrices; a
:class:`~theory.subnetwork.Subnetwork` is a random source network plus masks (and gains for
binarised tickets); each construction in :mod:`theory.constructions` returns a result object with
the subnetwork, the width and depth it used and the bound's prediction.
"""
