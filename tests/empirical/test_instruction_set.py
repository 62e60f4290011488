"""Pinned instruction sets (empirical/instruction_set.py): the same bits on another machine.

A machine with AVX2 but no AVX-512 is emulated through each library's own switch in a fresh
interpreter (the switches are read when the libraries load); isa_probe.py beside this file trains
dense, MPT-1/32, MPT-1/1 (+BN) and a 3-level LTH chain on fc and conv nets, generates MNIST-1D and
runs theory checks, and prints a digest of every final state. They must match this machine's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from empirical import instruction_set
from empirical.config.hparams import hparams_hash
from empirical.data.cache import cache_key
from empirical.errors import InputError
from empirical.storage.store import RunStore
from verify.cli.main import main
from verify.figures import run_notebooks, write_index
from verify.mpt_study import preset_hparams
from verify.plotting import Outputs, read_manifest

PROBE = Path(__file__).with_name("isa_probe.py")
ROOT = Path(__file__).resolve().parents[2]
#: An AVX2-only CPU as each library would see it (its own switch, at that machine's choice).
AVX2_MACHINE = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    "NUMBA_CPU_NAME": "haswell",
    "NUMBA_CPU_FEATURES": "",
    "OPENBLAS_CORETYPE": "Haswell",
}
#: Native AVX-512 choices asked for explicitly: pinning must override them.
AVX512_CHOICES = {"ATEN_CPU_CAPABILITY": "avx512", "MKL_CBWR": "AUTO",
                  "ONEDNN_MAX_CPU_ISA": "ALL", "NPY_DISABLE_CPU_FEATURES": "",
                  "OPENBLAS_CORETYPE": "SkylakeX"}

needs_avx2 = pytest.mark.skipif(not instruction_set.pinnable(),
                                reason="pinning needs an x86-64 CPU with AVX2 and FMA")


def _env(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in instruction_set.PINNED and k not in AVX2_MACHINE}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.pop(instruction_set.NATIVE_ENV, None)
    return {**env, **changes}


@needs_avx2
def test_avx2_machine_and_native_choice_give_identical_bits() -> None:
    runs = {name: subprocess.Popen([sys.executable, str(PROBE)], env=_env(**env),
                                   stdout=subprocess.PIPE, text=True, cwd=ROOT)
            for name, env in (("native choice", {}), ("AVX2-only machine", AVX2_MACHINE))}
    out = {name: json.loads(run.communicate()[0]) for name, run in runs.items()}
    native, avx2 = out["native choice"], out["AVX2-only machine"]
    assert native["isa"]["isa_mode"] == avx2["isa"]["isa_mode"] == "pinned"
    assert native["isa"]["effective"]["aten_cpu_capability"] == "AVX2"
    cases = [k for k in native if k != "isa"]
    assert len(cases) == 12
    assert {k: native[k] for k in cases} == {k: avx2[k] for k in cases}


@needs_avx2
def test_pinning_overrides_native_choices_and_precedes_torch() -> None:
    code = ("import verify, os, json, torch\n"  # verify first, as every entry point does
            "import empirical.instruction_set as isa\n"
            "from numpy._core import _multiarray_umath as u\n"
            "print(json.dumps([isa.MODE, torch.backends.cpu.get_cpu_capability(),\n"
            "    u.__cpu_features__['X86_V4'], {k: os.environ[k] for k in isa.PINNED}]))")
    out = subprocess.run([sys.executable, "-c", code], env=_env(**AVX512_CHOICES), cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    mode, capability, avx512_loops, switches = json.loads(out)
    assert (mode, capability, avx512_loops) == ("pinned", "AVX2", False)
    assert switches == instruction_set.PINNED
    native = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, env=_env(**{instruction_set.NATIVE_ENV: "1"}))
    assert native.returncode != 0 and "KeyError" in native.stderr  # nothing was set


def test_hparams_record_the_environment_outside_the_hash(tmp_path: Path, monkeypatch) -> None:
    hparams = preset_hparams("digits-biprop", {})
    for mode in ("pinned", "native"):
        monkeypatch.setattr(instruction_set, "MODE", mode)
        store = RunStore.for_run(tmp_path / mode, "biprop", hparams)
        store.write_hparams("biprop", hparams)
        data = store.read_hparams()
        assert data["hash"] == store.name == hparams_hash(hparams)
        record = data["environment"]
        assert record["isa_mode"] == mode and record["versions"]["torch"]
        assert set(record) >= {"switches", "effective", "cpu_model", "cpu_flags", "machine"}


def test_figures_refuse_native_mode_for_committed_outputs(monkeypatch, capsys) -> None:
    monkeypatch.setattr(instruction_set, "MODE", "native")
    with pytest.raises(InputError, match="TICKETS_NATIVE_ISA"):
        run_notebooks("smoke", names=["subset_sum"], progress=False)
    assert main(["figures", "--only", "subset_sum", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "TICKETS_NATIVE_ISA" in err


def test_manifest_and_index_say_what_outputs_were_made_on(tmp_path: Path) -> None:
    outputs = Outputs("nb", "smoke", tmp_path / "smoke", figures=[], tables={"t": ["a"]})
    outputs.table(pd.DataFrame({"a": [1]}), "t", "caption", [0])
    record = read_manifest(outputs.finish())["environment"]
    assert record == instruction_set.environment_record()
    text = write_index(tmp_path).read_text()
    assert f"Made on {instruction_set.describe(record)}: `nb`." in text
    assert f"torch {record['versions']['torch']}" in text


@needs_avx2
def test_tests_are_pinned_and_jobs_get_the_exports(monkeypatch) -> None:
    assert instruction_set.MODE == "pinned"  # conftest imported it before torch and numpy
    lines = instruction_set.job_exports()
    assert "export ATEN_CPU_CAPABILITY=avx2" in lines
    assert "export NPY_DISABLE_CPU_FEATURES='X86_V4 AVX512_ICL AVX512_SPR'" in lines
    monkeypatch.setenv(instruction_set.NATIVE_ENV, "1")
    assert instruction_set.job_exports() == ["export TICKETS_NATIVE_ISA=1"]


def test_generated_datasets_are_cached_per_instruction_set_mode(monkeypatch) -> None:
    pinned = cache_key("mnist1d", {}, 0)
    monkeypatch.setattr(instruction_set, "MODE", "native")
    assert cache_key("mnist1d", {}, 0) != pinned
