"""Packed tickets: a found ticket as a small self-describing file, its exact reload, and
bit-packed inference.

The file format (version 2) is described in one place, ``docs/export.md``, completely enough for
a reader without this project; :mod:`empirical.export.reference_reader` is such a reader (numpy
and safetensors only; importing this package imports no torch).

Writing (:func:`empirical.export.ticket_file.export_run`): the run's ticket is frozen
(:mod:`empirical.export.frozen`), its tensors encoded in a layout (:mod:`empirical.export.layouts`,
:mod:`empirical.export.bits`, :mod:`empirical.export.rans`), its network and data described as
metadata (:mod:`empirical.export.architecture`, :mod:`empirical.export.preprocessing`), and the
container written with its checksums (:mod:`empirical.export.container`,
:mod:`empirical.export.header`).

Reading (:func:`empirical.export.ticket_file.load_ticket`) rebuilds the run's architecture from
``hparams`` (seeded as training seeded it), puts every layer in ``masked`` mode with the stored
values and loads the state: the network computes the same logits as the run's own model.
:mod:`empirical.export.engine` runs biprop tickets on bits
(:func:`empirical.export.engine.pack_model`): batches in the batch-sliced layout of
:mod:`empirical.export.sliced`, BatchNorm and sign folded into integer thresholds
(:mod:`empirical.export.thresholds`), bits from layer to layer; small batches layer by layer
(:mod:`empirical.export.kernels`: XNOR/AND + popcount for binary activations, signed sums for
real ones). :mod:`empirical.export.onnx_export` writes the float simulation as ONNX.
"""
