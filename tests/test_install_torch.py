"""scripts/install_torch.py: which torch scripts/install asks pip for, without the network.

On Linux x86_64 a plain ``pip install torch==2.13.0`` from the public index pulls the CUDA build
(several GB). The script asks PyTorch's CPU wheel index when it answers, else falls back to pip's
own configuration with a message. Here pip is a stub that records its arguments, and the "index"
is a server on 127.0.0.1 that these tests start (or a closed port, or a socket that never answers):
nothing leaves the machine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "install_torch.py"
STUB_PIP = """#!{python}
import json, os, sys
with open(os.environ["STUB_PIP_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:] == ["show", "torch"]:
    version = os.environ.get("STUB_TORCH_VERSION")
    if not version:
        print("WARNING: Package(s) not found: torch", file=sys.stderr)
        raise SystemExit(1)
    print("Name: torch\\nVersion: " + version)
if "--dry-run" in sys.argv:  # what pip's configuration here would install
    version = os.environ.get("STUB_CONFIGURED_TORCH", "2.13.0")
    print(json.dumps({{"install": [{{"metadata": {{"name": "torch", "version": version}}}}]}}))
"""


@dataclass(frozen=True)
class Run:
    status: int
    message: str
    pip_calls: list[list[str]]
    seconds: float

    @property
    def installs(self) -> list[list[str]]:
        return [call for call in self.pip_calls if call[:1] == ["install"] and "--dry-run" not in call]


def run_choice(
    tmp_path: Path, *args: str, index: str, torch: str = "", timeout_s: str = "3", configured: str = "2.13.0"
) -> Run:
    """scripts/install_torch.py with the stub pip; ``torch`` is the version the stub reports installed,
    ``configured`` the one its configuration offers (PyPI's plain ``2.13.0`` by default)."""
    pip = tmp_path / "pip"
    pip.write_text(STUB_PIP.format(python=sys.executable), encoding="utf-8")
    pip.chmod(pip.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "pip-calls.jsonl"
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}  # 127.0.0.1 directly
    env.update(
        NEWSDESK_TORCH_PIP=str(pip),
        NEWSDESK_TORCH_INDEX=index,
        NEWSDESK_TORCH_PROBE_TIMEOUT_S=timeout_s,
        STUB_PIP_LOG=str(log),
        STUB_TORCH_VERSION=torch,
        STUB_CONFIGURED_TORCH=configured,
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quiet", *args], env=env, capture_output=True, text=True, timeout=60
    )
    seconds = time.monotonic() - started
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
    return Run(done.returncode, done.stderr, calls, seconds)


@pytest.fixture
def cpu_index() -> Iterator[tuple[str, list[str]]]:
    """A stand-in for PyTorch's CPU wheel index on 127.0.0.1: (its URL, the paths asked for)."""
    asked: list[str] = []

    class Index(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            asked.append(f"{self.command} {self.path}")
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Index)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/whl/cpu", asked
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there now: connections are refused


def test_install_on_a_machine_with_only_the_public_index_takes_torch_from_the_cpu_wheel_index(
    tmp_path: Path, cpu_index: tuple[str, list[str]]
) -> None:
    index, asked = cpu_index
    run = run_choice(tmp_path, "--platform", "linux", index=index)
    assert run.status == 0, run.message
    assert run.installs == [["install", "--quiet", "--index-url", index, "torch==2.13.0"]]
    assert asked == ["HEAD /whl/cpu/torch/"]
    assert "the CPU build" in run.message


def test_install_with_the_cpu_index_unreachable_falls_back_to_pip_config_with_a_message(
    tmp_path: Path,
) -> None:
    index = f"http://127.0.0.1:{closed_port()}/whl/cpu"
    run = run_choice(tmp_path, "--platform", "linux", index=index)
    assert run.status == 0, run.message
    assert run.installs == [["install", "--quiet", "torch==2.13.0"]]  # as pip is configured here
    assert f"PyTorch's CPU wheel index {index} is not reachable" in run.message
    assert "CUDA build" in run.message and "PIP_FIND_LINKS" in run.message


def test_install_probe_of_an_index_that_never_answers_gives_up_within_its_timeout(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        index = f"http://127.0.0.1:{silent.getsockname()[1]}/whl/cpu"
        run = run_choice(tmp_path, "--platform", "linux", index=index, timeout_s="1")
    assert run.installs == [["install", "--quiet", "torch==2.13.0"]]
    assert "is not reachable" in run.message
    assert run.seconds < 10  # one second of probing, plus starting Python and the stub


def test_install_with_torch_2_13_0_already_in_the_venv_does_nothing(
    tmp_path: Path, cpu_index: tuple[str, list[str]]
) -> None:
    index, asked = cpu_index
    run = run_choice(tmp_path, "--platform", "linux", index=index, torch="2.13.0+cpu")
    assert run.status == 0 and run.installs == [] and asked == []  # not even a probe
    assert "torch 2.13.0+cpu is installed already" in run.message
    other = run_choice(tmp_path, "--platform", "linux", index=index, torch="2.12.1")
    assert other.installs == [["install", "--quiet", "--index-url", index, "torch==2.13.0"]]


def test_install_on_macos_is_plain_pip_without_probing_the_cpu_index(
    tmp_path: Path, cpu_index: tuple[str, list[str]]
) -> None:
    index, asked = cpu_index
    run = run_choice(tmp_path, "--platform", "darwin", index=index)
    assert run.status == 0
    assert run.installs == [["install", "--quiet", "torch==2.13.0"]] and asked == []


def test_scripts_install_installs_torch_through_the_cpu_choice_only() -> None:
    install = (REPO / "scripts" / "install").read_text(encoding="utf-8")
    assert ".venv/bin/python scripts/install_torch.py --quiet" in install
    assert 'pip install --quiet "torch' not in install and "pip install torch" not in install


def test_install_where_pip_is_configured_with_the_cpu_wheel_takes_it_without_probing_the_index(
    tmp_path: Path, cpu_index: tuple[str, list[str]]
) -> None:
    index, asked = cpu_index
    run = run_choice(tmp_path, "--platform", "linux", index=index, configured="2.13.0+cpu")
    assert run.status == 0, run.message
    assert run.installs == [["install", "--quiet", "torch==2.13.0"]] and asked == []  # no request out
    assert "torch 2.13.0+cpu, the CPU build pip's configuration offers" in run.message


def test_configured_version_reads_pips_dry_run_report_on_this_machine() -> None:
    spec = importlib.util.spec_from_file_location("install_torch", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["install_torch"] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    offered = module.configured_version([sys.executable, "-m", "pip"])
    assert offered is not None and offered.startswith("2.13.0"), offered  # "2.13.0+cpu" here
