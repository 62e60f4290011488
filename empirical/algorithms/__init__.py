"""Training algorithms: the shared training loop, multi-prize tickets (biprop, edge-popup) and
IMP."""
