"""A frozen ticket's network as data: the ``architecture`` metadata entry of a packed ticket.

:func:`describe` traces the model (:class:`empirical.export.graph_values.LeafTracer`: factory
layers, signs and standard modules as single nodes) and writes every node, in execution order, as
a JSON object ``{"name", "op", "inputs", ...}`` whose ``op`` is one of :data:`OPS`. Containers
disappear, ``nn.Identity`` nodes are replaced by their input, and a module the vocabulary does not
cover is refused (the file would not be readable without this project). The meaning of every op,
the tensor names it reads and the tie rules are in ``docs/export.md``; the torch-free reader that
follows them is :mod:`empirical.export.reference_reader`.
"""

from __future__ import annotations

import operator
from typing import Any

import torch
from torch import nn

from empirical.activations import BinaryActivation
from empirical.export.frozen import Sign
from empirical.export.graph_values import LeafTracer
from empirical.layers import FactoryConv1d, FactoryConv2d, FactoryLinear

OPS = ("input", "linear", "conv1d", "conv2d", "batchnorm", "relu", "sign", "maxpool", "avgpool",
       "global_avgpool", "flatten", "add")
#: Rules a reader must follow that no tensor carries (``docs/export.md``, "Ties").
RULES = {
    "sign": "+1 where x >= 0, else -1 (sign(0) = +1)",
    "hidden_sums": "exact: sums of +-alpha over +-1 inputs are integers times alpha",
    "argmax": "lowest class index among exactly equal logits, except the recorded test_ties",
}


def _pair(value: Any, dims: int) -> list[int]:
    return [int(v) for v in value] if isinstance(value, tuple | list) else [int(value)] * dims


def _pool(module: nn.Module, dims: int, where: str) -> dict[str, Any]:
    if getattr(module, "ceil_mode", False) or any(
            d != 1 for d in _pair(getattr(module, "dilation", 1), dims)):
        raise ValueError(f"{where}: pooling with ceil_mode or dilation is not in the format")
    kernel = _pair(module.kernel_size, dims)
    out = {"kernel_size": kernel, "stride": _pair(module.stride or module.kernel_size, dims),
           "padding": _pair(module.padding, dims)}
    if isinstance(module, nn.AvgPool1d | nn.AvgPool2d):
        if not module.count_include_pad and any(out["padding"]):
            raise ValueError(f"{where}: average pooling without count_include_pad is not in the "
                             "format")
    return out


def _module_node(module: nn.Module, target: str) -> dict[str, Any]:
    """The op and attributes of one leaf module (``target`` is its qualified name)."""
    where = f"module {target} ({type(module).__name__})"
    if isinstance(module, FactoryLinear):
        return {"op": "linear", "layer": target, "bias": module.bias is not None}
    if isinstance(module, FactoryConv1d | FactoryConv2d):
        dims = 1 if isinstance(module, FactoryConv1d) else 2
        if module.groups != 1 or any(d != 1 for d in module.dilation) or (
                module.padding_mode != "zeros" or isinstance(module.padding, str)):
            raise ValueError(f"{where}: only zero-padded convolutions without groups or "
                             "dilation are in the format")
        return {"op": f"conv{dims}d", "layer": target, "bias": module.bias is not None,
                "stride": list(module.stride), "padding": list(module.padding)}
    if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        if not module.track_running_stats:
            raise ValueError(f"{where}: BatchNorm without running statistics is not in the "
                             "format")
        return {"op": "batchnorm", "module": target, "eps": float(module.eps),
                "affine": module.affine}
    if isinstance(module, nn.ReLU):
        return {"op": "relu"}
    if isinstance(module, BinaryActivation | Sign):
        return {"op": "sign"}
    if isinstance(module, nn.MaxPool1d | nn.MaxPool2d | nn.AvgPool1d | nn.AvgPool2d):
        dims = 1 if isinstance(module, nn.MaxPool1d | nn.AvgPool1d) else 2
        kind = "maxpool" if isinstance(module, nn.MaxPool1d | nn.MaxPool2d) else "avgpool"
        return {"op": kind, **_pool(module, dims, where)}
    if isinstance(module, nn.AdaptiveAvgPool1d | nn.AdaptiveAvgPool2d) and all(
            s == 1 for s in _pair(module.output_size, 1)):
        return {"op": "global_avgpool"}
    if isinstance(module, nn.Flatten) and module.start_dim == 1 and module.end_dim == -1:
        return {"op": "flatten"}
    raise ValueError(f"{where} is not in the ticket format's vocabulary ({', '.join(OPS)})")


def describe(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """The network of a frozen ticket as data (module docstring).

    Parameters
    ----------
    model
        A frozen ticket (:func:`empirical.export.frozen.freeze_`) or any model of the factory.
    input_shape
        Input shape without the batch axis (channels first).

    Returns
    -------
    dict
        ``{"input_shape", "nodes", "output", "rules"}``: the nodes in execution order, the name
        of the node whose value is the logits, and :data:`RULES`.

    Raises
    ------
    ValueError
        A module or function outside :data:`OPS`.
    """
    graph = LeafTracer().trace(model)
    modules = dict(model.named_modules())
    alias: dict[str, str] = {}
    nodes: list[dict[str, Any]] = []
    output = None
    for node in graph.nodes:
        inputs = [alias.get(a.name, a.name) for a in node.args if isinstance(a, torch.fx.Node)]
        if node.op == "placeholder":
            entry: dict[str, Any] = {"op": "input"}
        elif node.op == "output":
            output = inputs[0]
            continue
        elif node.op == "call_module" and isinstance(modules[node.target], nn.Identity):
            alias[node.name] = inputs[0]
            continue
        elif node.op == "call_module":
            entry = _module_node(modules[node.target], node.target)
        elif node.op == "call_function" and node.target in (operator.add, torch.add) and (
                len(inputs) == 2 and not node.kwargs):
            entry = {"op": "add"}
        else:
            raise ValueError(f"graph node {node.name} ({node.op} {node.target}) is not in the "
                             f"ticket format's vocabulary ({', '.join(OPS)})")
        nodes.append({"name": node.name, **entry, "inputs": inputs})
    return {"input_shape": list(input_shape), "nodes": nodes, "output": output,
            "rules": dict(RULES)}
