"""A torch-free reader of packed ticket files: numpy and safetensors' numpy API only.

It follows ``docs/export.md`` and nothing else of this project (it imports only the torch-free
:mod:`empirical.export.header` and :mod:`empirical.export.bits`, and importing it imports no
torch): :func:`read_ticket` checks the file and rebuilds every layer's effective weight
``W = V * m`` from the stored masks and values; :func:`logits` runs the ``architecture`` graph in
float64; :func:`predict` takes the arg max with the file's tie rules.

Arithmetic. Every op computes in float64. A layer whose inputs are ``+-1`` (after a sign) and
whose weights are ``+-alpha`` or 0 sums multiples of ``alpha`` (a float32, 24 significant bits):
every partial sum ``m alpha`` with ``|m| < 2^29`` is exact in float64, so hidden pre-activations
and the logits of MPT-1/1 tickets are exact whatever the summation order, as the packed engine's
integer counts are. ``sign(x)`` is ``+1`` for ``x >= 0``. Exactly equal top logits (MPT-1/1
logits are multiples of ``alpha`` and often tie) go to the lowest class index, except on the
recorded test split, where the file's ``test_ties`` give the label the run's float32 model chose
(its float32 sums break such ties by their rounding order, which depends on the BLAS kernel).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from empirical.errors import InputError
from empirical.export.bits import unpack_bits
from empirical.export.header import check_file

REFERENCE_VERSION = "2"  # the first format version that carries the architecture


@dataclass
class ReferenceTicket:
    """A packed ticket read without torch.

    Attributes
    ----------
    metadata
        Every metadata entry (strings).
    architecture, preprocessing
        The parsed ``architecture`` and ``preprocessing`` entries.
    weights
        Layer name -> effective weight ``V * m`` (float64, the layer's weight shape).
    state
        State key (``state.`` removed) -> float64 array: BatchNorm statistics and affine
        parameters, layer biases.
    test_ties
        Test index -> the label the run chose among exactly tied logits, where it is not the
        lowest tied class.
    """

    metadata: dict[str, str]
    architecture: dict[str, Any]
    preprocessing: dict[str, Any]
    weights: dict[str, np.ndarray]
    state: dict[str, np.ndarray]
    test_ties: dict[int, int] = field(default_factory=dict)


def _layer_weight(tensors: dict[str, np.ndarray], entry: dict[str, Any], kind: str,
                  where: str) -> np.ndarray:
    """``V * m`` of one layer: biprop ``V = +-alpha`` by its sign bits, else the stored values."""
    name, shape, kept = entry["name"], entry["shape"], int(entry["kept"])
    n = math.prod(shape)
    try:
        mask = unpack_bits(tensors[f"{name}.mask"], n)
        if kind == "biprop":
            alpha = float(tensors[f"{name}.alpha"].reshape(-1)[0])
            kept_values = np.where(unpack_bits(tensors[f"{name}.signs"], kept), alpha, -alpha)
        else:
            kept_values = tensors[f"{name}.values"].astype(np.float64)
    except KeyError as err:
        raise ValueError(f"{where} is damaged: tensor {err.args[0]} is missing") from None
    if int(mask.sum()) != kept or kept_values.size != kept:
        raise ValueError(f"{where} is damaged: layer {name} keeps {int(mask.sum())} weights "
                         f"with {kept_values.size} values, the metadata says {kept}")
    weight = np.zeros(n)
    weight[mask] = kept_values
    return weight.reshape(shape)


def read_ticket(path: str | os.PathLike) -> ReferenceTicket:
    """Read and check a self-contained or LTH packed ticket (format version 2).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    ReferenceTicket
        Weights, state and the network and preprocessing as data.

    Raises
    ------
    ValueError
        One line naming the file: damaged or truncated (checksums), version 1 (no architecture),
        seed-only (its weights need torch's generator), bfloat16 values (no numpy type).
    """
    from safetensors.numpy import load

    where = f"file {path}"
    raw = Path(path).read_bytes()
    meta = check_file(raw, where)
    if meta["format_version"] != REFERENCE_VERSION:
        raise ValueError(f"{where} has format version {meta['format_version']}, which does not "
                         "record its architecture; read it with "
                         "empirical.export.ticket_file.load_ticket (torch) or export the run "
                         "again")
    if meta.get("layout") == "seed-only":
        raise InputError("{where} is seed-only: its weights are regenerated from seed {seed} by "
                         "torch's random generator (torch {torch}), which numpy cannot "
                         "reproduce; export the run with {layout=self-contained}", where=where,
                         seed=meta.get("seed"), torch=meta.get("torch_version"))
    if meta.get("values_dtype") == "bfloat16" and meta.get("kind") != "biprop":
        raise InputError("{where} stores bfloat16 values, which numpy has no type for; export "
                         "the run with {values_dtype=float32} or float16", where=where)
    try:
        tensors = load(raw)
    except Exception as err:  # safetensors raises its own error types
        raise ValueError(f"{where} is damaged: {err}") from None
    return ticket_from_parts(tensors, meta, where)


def ticket_from_parts(tensors: dict[str, np.ndarray], meta: dict[str, str], where: str
                      ) -> ReferenceTicket:
    """A :class:`ReferenceTicket` from a file's tensors and metadata (already checked).

    Parameters
    ----------
    tensors
        Name -> array, as stored.
    meta
        The metadata; needs ``kind``, ``layers``, ``architecture`` and ``preprocessing``.
    where
        The file, for error messages.

    Returns
    -------
    ReferenceTicket
        The effective weights, the state and the parsed entries.
    """
    try:
        kind = meta["kind"]
        layers = json.loads(meta["layers"])
        architecture = json.loads(meta["architecture"])
        preprocessing = json.loads(meta["preprocessing"])
        ties = {int(i): int(label) for i, label in json.loads(meta.get("test_ties", "[]"))}
    except (KeyError, ValueError, TypeError) as err:
        raise ValueError(f"{where} is damaged: a metadata entry is missing or malformed "
                         f"({err})") from None
    weights = {e["name"]: _layer_weight(tensors, e, kind, where) for e in layers}
    state = {k.removeprefix("state."): v.astype(np.float64) for k, v in tensors.items()
             if k.startswith("state.")}
    return ReferenceTicket(meta, architecture, preprocessing, weights, state, ties)


def _spatial(x: np.ndarray) -> np.ndarray:
    """``(N, C, L)`` -> ``(N, C, 1, L)``; ``(N, C, H, W)`` unchanged."""
    return x[:, :, None, :] if x.ndim == 3 else x


def _windows(x: np.ndarray, kernel: list[int], stride: list[int], padding: list[int],
             fill: float) -> np.ndarray:
    """Windows ``(N, C, Ho, Wo, kh, kw)`` of a ``fill``-padded ``(N, C, H, W)`` map."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    views = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))
    return views[:, :, ::sh, ::sw]


def _two_d(node: dict[str, Any], key: str, default: int) -> list[int]:
    """A 1-D op's ``[k]`` attribute as ``[1, k]`` (height 1); 2-D ones unchanged."""
    values = node[key]
    return [default, *values] if len(values) == 1 else list(values)


def _conv(x: np.ndarray, weight: np.ndarray, node: dict[str, Any]) -> np.ndarray:
    one_d = x.ndim == 3
    w = weight[:, :, None, :] if one_d else weight
    kernel = list(w.shape[2:])
    windows = _windows(_spatial(x), kernel, _two_d(node, "stride", 1),
                       _two_d(node, "padding", 0), 0.0)
    out = np.einsum("nchwij,ocij->nohw", windows, w, optimize=True)
    return out[:, :, 0, :] if one_d else out


def _pool(x: np.ndarray, node: dict[str, Any]) -> np.ndarray:
    one_d = x.ndim == 3
    kernel = _two_d(node, "kernel_size", 1)
    fill = -np.inf if node["op"] == "maxpool" else 0.0
    windows = _windows(_spatial(x), kernel, _two_d(node, "stride", 1),
                       _two_d(node, "padding", 0), fill)
    out = windows.max(axis=(4, 5)) if node["op"] == "maxpool" else windows.sum(
        axis=(4, 5)) / (kernel[0] * kernel[1])
    return out[:, :, 0, :] if one_d else out


def _batchnorm(x: np.ndarray, state: dict[str, np.ndarray], node: dict[str, Any]) -> np.ndarray:
    """``(x - mean_c) / sqrt(var_c + eps) * gamma_c + beta_c`` (running statistics)."""
    m = node["module"]
    axes = (1, -1) + (1,) * (x.ndim - 2)
    y = (x - state[f"{m}.running_mean"].reshape(axes)) / np.sqrt(
        state[f"{m}.running_var"].reshape(axes) + node["eps"])
    if node["affine"]:
        y = y * state[f"{m}.weight"].reshape(axes) + state[f"{m}.bias"].reshape(axes)
    return y


def _layer(x: np.ndarray, ticket: ReferenceTicket, node: dict[str, Any]) -> np.ndarray:
    weight = ticket.weights[node["layer"]]
    y = x @ weight.T if node["op"] == "linear" else _conv(x, weight, node)
    if node["bias"]:
        bias = ticket.state[f"{node['layer']}.bias"]
        y = y + bias.reshape((1, -1) + (1,) * (y.ndim - 2))
    return y


def logits(ticket: ReferenceTicket, x: np.ndarray) -> np.ndarray:
    """The ticket's logits (float64) for a batch of preprocessed inputs.

    Parameters
    ----------
    ticket
        From :func:`read_ticket`.
    x
        ``(N, *input_shape)`` inputs, normalised as the ``preprocessing`` entry says.

    Returns
    -------
    numpy.ndarray
        ``(N, num_classes)`` float64.
    """
    values: dict[str, np.ndarray] = {}
    for node in ticket.architecture["nodes"]:
        op = node["op"]
        args = [values[name] for name in node["inputs"]]
        if op == "input":
            out = np.asarray(x, dtype=np.float64)
        elif op in ("linear", "conv1d", "conv2d"):
            out = _layer(args[0], ticket, node)
        elif op == "batchnorm":
            out = _batchnorm(args[0], ticket.state, node)
        elif op == "relu":
            out = np.maximum(args[0], 0.0)
        elif op == "sign":
            out = np.where(args[0] >= 0, 1.0, -1.0)
        elif op in ("maxpool", "avgpool"):
            out = _pool(args[0], node)
        elif op == "global_avgpool":
            out = args[0].mean(axis=tuple(range(2, args[0].ndim)), keepdims=True)
        elif op == "flatten":
            out = args[0].reshape(args[0].shape[0], -1)
        elif op == "add":
            out = args[0] + args[1]
        else:
            raise ValueError(f"unknown op {op!r} in the ticket's architecture")
        values[node["name"]] = out
    return values[ticket.architecture["output"]]


def predict(ticket: ReferenceTicket, x: np.ndarray, test_start: int | None = None
            ) -> np.ndarray:
    """Predicted labels: the arg max of :func:`logits`, lowest index among exact ties.

    Parameters
    ----------
    ticket
        From :func:`read_ticket`.
    x
        Preprocessed inputs.
    test_start
        If ``x`` holds the test examples ``test_start, test_start + 1, ...`` of the recorded test
        split, exact ties take the labels of the file's ``test_ties`` (the run's choices).

    Returns
    -------
    numpy.ndarray
        int64 labels.
    """
    z = logits(ticket, x)
    labels = z.argmax(axis=1)
    if test_start is not None:
        top = z.max(axis=1, keepdims=True)
        for row in np.flatnonzero((z == top).sum(axis=1) > 1):
            chosen = ticket.test_ties.get(test_start + int(row))
            if chosen is not None and z[row, chosen] == top[row, 0]:
                labels[row] = chosen
    return labels.astype(np.int64)
