"""The built wheel, installed as a user would: the Python's own pip, a fresh venv, outside the repository.

Nothing of the source tree is importable there, so the wheel alone must carry the code, the prompt
templates, the sample articles and the declared dependencies (``lxml.html.clean`` is a separate
project that an older pip left out when only ``lxml`` was declared).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.assistant.conftest_api import SAMPLE_QUESTION
from tests.conftest import REPO

pytestmark = pytest.mark.wheel
PRINT_SAMPLES_DIR = "from assistant.frontends.ui.handlers import samples_dir; print(samples_dir())"
LOAD_EVERY_PROMPT = (
    "from assistant.answering.prompts import load_prompt\n"
    "for name in ('answer_system', 'answer_user', 'condense'): load_prompt(name)"
)
NOT_IN_THE_WHEEL = shutil.ignore_patterns(
    ".*", "__pycache__", "build", "dist", "*.egg-info", "tests", "benchmarks", "docs"
)


def run(argv: Sequence[str | Path], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command to completion (at most 15 minutes); fail the test with its output if it fails."""
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0:
        pytest.fail(
            f"{argv[0]} {argv[1]} exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the source tree (the build writes beside its sources)."""
    source = tmp_path_factory.mktemp("source") / "newsdesk"
    shutil.copytree(REPO, source, ignore=NOT_IN_THE_WHEEL)
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", out, source], cwd=source)
    return next(out.glob("newsdesk-*.whl"))


def test_the_wheel_ships_the_prompt_templates_and_the_sample_articles(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    prompts = sorted(f"prompts/{p.name}" for p in (REPO / "prompts").glob("*.txt"))
    samples = sorted(f"samples/{p.name}" for p in (REPO / "samples").iterdir() if p.suffix != ".py")
    assert prompts and samples
    assert set(prompts) | set(samples) | {"assistant/static/widget.js"} <= names


def test_the_wheel_requires_the_separate_lxml_html_clean_project_by_name(wheel: Path) -> None:
    """Not only as the ``html_clean`` extra of lxml, which pip 23.2 drops: it does not normalise
    the name against lxml's ``html-clean`` ("lxml 6.1.3 does not provide the extra 'html_clean'")."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    requires = [line.removeprefix("Requires-Dist: ") for line in metadata.splitlines()]
    assert any(re.match(r"lxml[-_]html[-_]clean\b", line) for line in requires), requires


def test_the_wheel_installed_in_a_fresh_venv_ingests_the_samples_and_answers(
    wheel: Path, tmp_path: Path
) -> None:
    venv, work = tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSDESK_", "PYTHON"))}
    env.update(HF_HUB_OFFLINE="1", NEWSDESK_STORE_DIR=str(tmp_path / "store"))
    run([sys.executable, "-m", "venv", venv], work, env)  # with the pip that ships with this Python
    pip, python, newsdesk = (venv / "bin" / name for name in ("pip", "python", "newsdesk"))
    quick = ["install", "--quiet", "--no-compile"]  # modules compile when first imported
    run([pip, *quick, "torch==2.13.0"], work, env)  # the pinned CPU build first
    run([pip, *quick, wheel], work, env)
    samples = Path(run([python, "-c", PRINT_SAMPLES_DIR], work, env).strip())
    assert venv in samples.parents  # the installed copy: no source tree is importable here
    run([python, "-c", LOAD_EVERY_PROMPT], work, env)
    assert "added 1," in run([newsdesk, "ingest", "--quiet", samples], work, env)
    answer = json.loads(run([newsdesk, "ask", "--json", SAMPLE_QUESTION], work, env))
    assert answer["grounded"] is True and "Evkurov" in answer["answer"]
