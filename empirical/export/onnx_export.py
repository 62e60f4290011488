"""ONNX export of a ticket's float simulation (standard operators), checked with onnxruntime.

The frozen ticket is converted to standard modules (:func:`empirical.export.frozen.plain_model`:
``Gemm``/``Conv`` with ``W_eff``, ``BatchNormalization``, ``Relu``, the sign as
``Where(x >= 0, 1, -1)``, pooling) and exported with a dynamic batch axis by torch's TorchScript
exporter. :func:`check_onnx` runs the file with onnxruntime on the CPU and compares its logits with
torch's on the same inputs.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from empirical.export.frozen import freeze_, plain_model
from empirical.storage.store import atomic_write

OPSET = 17
TIE_TOLERANCE = 1e-5


def export_onnx(model: nn.Module, input_shape: tuple[int, ...], path: str | os.PathLike) -> int:
    """Write the float simulation of a frozen ticket as ONNX (atomically).

    Parameters
    ----------
    model
        A frozen ticket (or any factory model).
    input_shape
        Input shape without the batch axis.
    path
        The ``.onnx`` file.

    Returns
    -------
    int
        File size in bytes.
    """
    import io

    plain = plain_model(model)
    buffer = io.BytesIO()
    sample = torch.zeros(1, *input_shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(plain, (sample,), buffer, dynamo=False, opset_version=OPSET,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    raw = buffer.getvalue()
    atomic_write(path, lambda f: f.write(raw), True)
    return len(raw)


def check_onnx(path: str | os.PathLike, model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    """Run the ONNX file with onnxruntime on ``x`` and compare with torch's logits.

    Parameters
    ----------
    path
        The ``.onnx`` file.
    model
        The torch model it was exported from.
    x
        A batch of inputs.

    Returns
    -------
    dict
        ``max_abs_diff`` of the logits; ``tied_inputs``: inputs whose two largest torch logits
        lie within ``1e-5`` of the largest logit magnitude (binary-activation logits are
        multiples of one gain, so exact ties occur and any rounding may break them either way);
        ``identical_predictions``: the argmax agrees on every other input.
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"input": x.numpy().astype(np.float32)})
    with torch.no_grad():
        reference = model.eval()(x).numpy()
    top2 = -np.sort(-reference, axis=1)[:, :2]
    tied = (top2[:, 0] - top2[:, 1]) <= TIE_TOLERANCE * np.abs(reference).max()
    agree = logits.argmax(1) == reference.argmax(1)
    return {"max_abs_diff": float(np.abs(logits - reference).max()),
            "tied_inputs": int(tied.sum()), "identical_predictions": bool(agree[~tied].all())}


def export_run_onnx(run_dir: str | os.PathLike, out: str | os.PathLike,
                    data_dir: str | None = None) -> dict[str, Any]:
    """Export a finished run's ticket as ONNX and check it with onnxruntime.

    The check uses the run's test split when it can be read (every test example), else 64
    Gaussian inputs.

    Parameters
    ----------
    run_dir
        The run directory.
    out
        The ``.onnx`` file.
    data_dir
        Where the run's dataset lives.

    Returns
    -------
    dict
        ``file``, ``kind``, ``run_hash``, ``bytes``, ``max_abs_diff``, ``tied_inputs``,
        ``identical_predictions``.
    """
    from empirical.algorithms.run_reader import read_run
    from empirical.data import dataset_info
    from empirical.export.ticket_file import eval_batches

    ticket = read_run(run_dir)
    model = freeze_(ticket.model, ticket.masks)
    shape = dataset_info(ticket.hparams.dataset.name).input_shape
    size = export_onnx(model, shape, out)
    try:
        batches = eval_batches(ticket.hparams, data_dir=data_dir)
        x = torch.cat([xb for xb, _ in batches])
    except (FileNotFoundError, NotADirectoryError, ValueError):
        x = torch.randn(64, *shape, generator=torch.Generator().manual_seed(0))
    check = check_onnx(out, model, x)
    return {"file": str(Path(out)), "kind": ticket.kind, "run_hash": ticket.run_hash,
            "bytes": size, **check}
