"""Published presets: every value sourced, the released-code variants, the paper's recipe as the
default of a model named after a paper, and the README's reproduction table."""

from __future__ import annotations

from pathlib import Path

import pytest

from empirical.config.hparams import RunHparams, TrainingHparams, from_dict
from empirical.config.lth_hparams import LTHHparams
from empirical.config.presets import PRESETS, model_preset, reproduction_table
from verify.cli.main import build_parser

PUBLISHED = sorted(n for n, p in PRESETS.items() if p.published)


@pytest.mark.parametrize("name", PUBLISHED)
def test_every_value_of_a_published_preset_names_its_source(name: str) -> None:
    preset = PRESETS[name]
    keys = {f"{sec}.{k}" for sec, values in preset.values.items() for k in values}
    assert keys == set(preset.sources), name
    assert all(src.strip() for src in preset.sources.values())
    assert preset.reproduces and preset.differs
    cls = LTHHparams if preset.algorithm == "lth" else RunHparams
    sections = {s: preset.section(s) for s in preset.values}
    if cls is RunHparams:
        sections.setdefault("mask", {})["mode"] = preset.algorithm
    from_dict(cls, sections)  # every value is a valid hyperparameter


def test_published_facts_are_pinned() -> None:
    wide = PRESETS["vgg-small-1.25x-mpt-1/1"].values
    assert wide["training"]["lr"] == 0.1 and wide["training"]["optimizer"] == "adam"
    assert wide["model"]["name"] == "wide-vgg-small" and wide["model"]["width_mult"] == 10
    wrn = PRESETS["wrn50-2-mpt-1/32-imagenet"].values["training"]
    assert (wrn["lr"], wrn["momentum"], wrn["weight_decay"], wrn["warmup_epochs"]) == (
        0.256, 0.875, 3.0517578125e-05, 5)
    assert PRESETS["wrn50-2-mpt-1/32-imagenet"].values["mask"]["init"] == "usc"
    vgg = PRESETS["vgg-small-mpt-1/32"].values
    assert vgg["training"]["optimizer"] == "adam" and vgg["model"]["name"] == "vgg-small-mpt"
    assert PRESETS["vgg-small-mpt-1/32-released"].values["mask"]["keep"] == 0.4
    for name in ("lenet-300-100-lth", "conv2-lth", "conv4-lth", "conv6-lth"):
        assert PRESETS[name].values["pruning"]["init"] == "xavier_normal"
    r20 = PRESETS["resnet20-lth-rewind"].values
    assert r20["training"]["schedule"] == "step" and r20["training"]["milestones"] == (80, 120)
    assert r20["model"]["bn_init"] == "uniform" and r20["dataset"]["drop_last"] is False


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_adam_presets_never_decay_silently(name: str) -> None:
    training = PRESETS[name].section("training")
    if training.get("optimizer") == "adam":
        assert TrainingHparams(**training).decay == training.get("weight_decay", 0.0)
        assert TrainingHparams(**training).decay == 0.0


def test_released_variants_differ_by_the_released_rules() -> None:
    for name in ("conv4-mpt-1/32", "conv4-mpt-1/1", "resnet18-mpt-1/32"):
        paper, released = PRESETS[name].values, PRESETS[f"{name}-released"].values
        assert paper["mask"]["fan_rule"] == "paper" and released["mask"]["fan_rule"] == "released"
        assert (paper["training"]["epochs"], released["training"]["epochs"]) == (250, 100)


def test_model_named_after_a_paper_defaults_to_its_recipe() -> None:
    assert model_preset("lth", "lenet-300-100", None) == "lenet-300-100-lth"
    assert model_preset("lth", "lenet-300-100", "mnist") == "lenet-300-100-lth"
    assert model_preset("lth", "lenet-300-100", "digits") is None
    assert model_preset("lth", "fc", "mnist") is None
    from verify.cli.train_lth import hparams_from_args

    args = build_parser().parse_args(["train", "lth", "--model", "lenet-300-100", "--dataset",
                                      "mnist"])
    hparams = hparams_from_args(args)
    assert hparams.training.optimizer == "adam" and hparams.training.lr == 1.2e-3
    assert hparams.pruning.output_rate == 0.1 and hparams.dataset.batch_size == 60
    generic = hparams_from_args(build_parser().parse_args(
        ["train", "lth", "--model", "lenet-300-100", "--dataset", "mnist", "--preset", "none"]))
    assert generic.training.optimizer == "sgd"


def test_docs_hold_the_reproduction_table() -> None:
    readme = (Path(__file__).resolve().parents[2] / "docs" / "reproduction.md").read_text()
    assert reproduction_table() in readme


#: Weights of the published presets' networks (shared/reference/algorithms.md, section 4): the
#: conv/linear weights of the score models (bias-free), all parameters of the LTH models.
WEIGHTS = {"conv4-mpt-1/32": 2_425_024, "resnet18-mpt-1/32": 11_164_352,
           "vgg-small-mpt-1/32": 4_656_512, "vgg-small-1.25x-mpt-1/1": 7_249_120,
           "wrn50-2-mpt-1/32-imagenet": 68_814_016}
PARAMETERS = {"lenet-300-100-lth": 266_610, "resnet20-lth-rewind": 272_474,
              "vgg19-lth-warmup": 20_040_522}


@pytest.mark.parametrize("name", sorted({**WEIGHTS, **PARAMETERS}))
def test_published_presets_build_the_papers_networks(name: str) -> None:
    import torch

    from empirical.algorithms.builders import build_run_model
    from empirical.algorithms.lth import build_lth_model
    from empirical.layers import prunable_layers

    preset = PRESETS[name]
    sections = {s: preset.section(s) for s in preset.values}
    with torch.device("meta"):  # shapes only: no memory, no time
        if preset.algorithm == "lth":
            model = build_lth_model(from_dict(LTHHparams, sections), 0)
            assert sum(p.numel() for p in model.parameters()) == PARAMETERS[name]
        else:
            sections["mask"]["mode"] = preset.algorithm
            model = build_run_model(from_dict(RunHparams, sections))
            weights = sum(layer.weight.numel() for _, layer in prunable_layers(model))
            assert weights == WEIGHTS[name]


def test_mnist1d_cnn_lth_prunes_every_conv_at_20_and_the_head_at_10_percent() -> None:
    from empirical.algorithms.lth import build_lth_model
    from empirical.algorithms.model_masks import prunable_weights
    from empirical.algorithms.pruning import layer_rates
    from empirical.config.lth_hparams import from_preset

    hp = from_preset("mnist1d-cnn-lth")
    weights = prunable_weights(build_lth_model(hp, 0))
    rates = layer_rates(weights, hp.pruning.rate, hp.pruning.conv_rate, hp.pruning.output_rate)
    # three convolutions (1x25x5, 25x25x3, 25x25x3) and the 125 -> 10 head
    assert [w.numel() for w in weights.values()] == [125, 1875, 1875, 1250]
    assert list(rates.values()) == [0.2, 0.2, 0.2, 0.1]
