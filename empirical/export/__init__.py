"""Packed tickets: a found ticket as a small self-describing file, its exact reload, and
bit-packed inference.

File format (version 1)
-----------------------
A packed ticket is a safetensors file (:mod:`empirical.export.container`): an 8-byte
little-endian header length, a JSON header, then the tensor bytes. Its ``__metadata__`` (strings):

- ``format`` = ``lottery-tickets/packed-ticket``, ``format_version`` = ``1``;
- ``layout``: ``self-contained``, ``seed-only`` or ``lth``; ``kind``: ``biprop``, ``edge-popup``
  or ``lth``; ``run_hash``: the run's hash, which ``hparams`` (the JSON of every hyperparameter)
  must hash to; ``model`` and ``dataset`` (names); ``seed``;
- ``layers``: JSON list, in model order, of ``{"name", "shape", "kept"}`` per prunable layer;
- ``test_acc``: the run's final test accuracy; ``test_predictions_sha256``: SHA-256 of its test
  predictions (int64), when the data was at hand at export;
- ``weights_sha256`` (seed-only): SHA-256 of the weights the seed regenerates
  (:func:`empirical.export.layouts.weights_digest`); ``torch_version``; ``values_dtype``;
  ``rewind_step`` (LTH);
- ``payload_sha256`` and ``metadata_sha256``: checksums of the tensor bytes and of the other
  metadata entries.

Tensors per layout (:mod:`empirical.export.layouts`): masks and signs packed 8 per byte,
little-endian bit order (:mod:`empirical.export.bits`); seed-only masks rANS-coded per layer with
``P(1) = K / n`` (:mod:`empirical.export.rans`); BatchNorm statistics, gamma/beta and biases as
``state.<key>`` float32.

Reading (:func:`empirical.export.ticket_file.load_ticket`) rebuilds the run's architecture from
``hparams`` (seeded as training seeded it), puts every layer in ``masked`` mode with the stored
values (:mod:`empirical.export.frozen`) and loads the state: the network computes the same
logits as the run's own model. :mod:`empirical.export.engine` runs biprop tickets on bits
(:func:`empirical.export.engine.pack_model`): batches in the batch-sliced layout of
:mod:`empirical.export.sliced`, BatchNorm and sign folded into integer thresholds, bits from layer
to layer; small batches layer by layer (:mod:`empirical.export.kernels`: XNOR/AND + popcount for
binary activations, signed sums for real ones). :mod:`empirical.export.onnx_export` writes the
float simulation as ONNX.
"""
