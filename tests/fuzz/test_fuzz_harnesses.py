"""The atheris harnesses of fuzz/: the committed seed corpus replays without a finding,
and each harness fuzzes for a bounded time (FUZZ_SECONDS) without one. Long runs are
`python fuzz/<harness>.py -max_total_time=600 ...` (README, Tests)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUZZ = ROOT / "fuzz"
HARNESSES = ["smpp_session", "text"]
FUZZ_SECONDS = int(os.environ.get("SMSGW_FUZZ_SECONDS", "20"))


def run_harness(name: str, *args: str, timeout: float) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(FUZZ / f"{name}.py"), *args],
                          capture_output=True, text=True, errors="replace", cwd=ROOT,
                          env=env, timeout=timeout)


def finding(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}; the harness said:\n{result.stderr[-6000:]}"


@pytest.mark.parametrize("name", HARNESSES)
def test_the_seed_corpus_replays_through_the_harness_without_a_finding(name, tmp_path):
    corpus = FUZZ / "corpus" / ("smpp" if name == "smpp_session" else name)
    assert len(list(corpus.iterdir())) >= 50, "the seed corpus is missing"
    result = run_harness(name, "-runs=0", f"-artifact_prefix={tmp_path}/", str(corpus),
                         timeout=120)
    assert result.returncode == 0, finding(result)
    assert "INITED" in result.stderr, finding(result)


@pytest.mark.parametrize("name", HARNESSES)
def test_a_bounded_fuzzing_run_finds_nothing(name, tmp_path):
    corpus = FUZZ / "corpus" / ("smpp" if name == "smpp_session" else name)
    work = tmp_path / "corpus"
    shutil.copytree(corpus, work)  # new units go here, not into the committed seeds
    result = run_harness(name, f"-max_total_time={FUZZ_SECONDS}", "-print_final_stats=1",
                         f"-artifact_prefix={tmp_path}/", str(work),
                         timeout=FUZZ_SECONDS + 120)
    crashes = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-",
                                                                              "timeout-", "oom-")))
    assert result.returncode == 0 and not crashes, f"{crashes}: {finding(result)}"
    assert "stat::number_of_executed_units" in result.stderr, finding(result)
