"""Training lottery tickets with torch: multi-prize tickets (biprop), edge-popup, dense, and IMP.

One layer factory (:mod:`empirical.layers`) builds every conv/linear layer from a mode, so one
model definition per architecture serves every algorithm.
"""
