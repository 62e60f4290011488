"""Training algorithms: the shared training loop (``train``) and its callbacks (``callbacks``),
multi-prize tickets (biprop, edge-popup; ``mpt``), IMP (``lth``, ``pruning``), and the result
object they return (``result``)."""
