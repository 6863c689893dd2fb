"""The package layout keeps its shape: imports point down the layers, no cycles, small modules, the
web stack only in the front ends, and a front door (``assistant.__all__``) that builds nothing.

The layers, lowest first (docs/architecture.md). A module may import from its own layer entry
(its package) and from any lower layer; never from a higher layer or a sibling in its own layer.
Imports inside functions and under ``TYPE_CHECKING`` count too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_LINES = 400
LAYERS: tuple[tuple[str, ...], ...] = (
    ("assistant.core.errors", "assistant.core.types"),
    ("assistant.core.setting_values", "assistant.core.access"),
    ("assistant.core.sections",),
    ("assistant.core.telemetry",),
    ("assistant.core.settings",),
    ("ingest.loading", "ingest.sentences", "ingest.terms", "ingest.embedding", "ingest.memory"),
    ("ingest.storage",),
    ("ingest.pipeline",),
    ("ingest.components", "ingest.feeds"),
    ("assistant.types",),
    ("assistant.text",),
    ("assistant.retrieval", "assistant.retrieval.retrieve"),
    ("assistant.answering", "assistant.news"),
    ("assistant.pipeline",),
    ("assistant.service",),
    ("assistant.archives",),
    ("assistant.evaluate",),
    ("assistant.ranker_fit",),
    ("assistant.frontends.http", "assistant.frontends.ui"),
    ("assistant.server",),
    ("assistant.frontends.cli",),
    ("assistant.__main__", "app"),
)


def module_files() -> dict[str, Path]:
    files = {"app": REPO / "app.py"}
    for package in ("assistant", "ingest"):
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            files[name] = path
    return files


def project_imports(path: Path, modules: set[str]) -> set[str]:
    """The project modules a file imports (``from pkg import module`` names the module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in modules}


def layer_of(module: str) -> tuple[int, str]:
    for index, entries in enumerate(LAYERS):
        for entry in entries:
            if module == entry or module.startswith(entry + "."):
                return index, entry
    raise AssertionError(f"{module} is in no layer of tests/test_layout.py")


def graph() -> dict[str, set[str]]:
    files = module_files()
    packages = {"assistant", "ingest", "assistant.core", "assistant.frontends"}  # namespaces, not layers
    return {
        name: project_imports(path, set(files)) - packages - {name}
        for name, path in files.items()
        if name not in packages
    }


def test_every_import_points_down_the_layers() -> None:
    wrong = []
    for module, imported in sorted(graph().items()):
        here, entry = layer_of(module)
        for target in sorted(imported):
            there, target_entry = layer_of(target)
            if there > here or (there == here and target_entry != entry):
                wrong.append(f"{module} -> {target}")
    assert wrong == [], "\n".join(wrong)


STAGES = ("condense", "scope", "retrieve", "read", "answer", "enrich")


def test_a_stage_imports_no_later_stage() -> None:
    """A question walks the stages in order (assistant/pipeline/chain.py): a stage may know the values
    of the stages before it, never one after it (a later stage cannot be called back)."""
    edges = graph()
    wrong = []
    for n, stage in enumerate(STAGES):
        later = {f"assistant.pipeline.{s}" for s in STAGES[n + 1 :]}
        wrong += [f"{stage} -> {target}" for target in sorted(edges[f"assistant.pipeline.{stage}"] & later)]
    assert wrong == [], wrong


def test_the_chain_names_the_stages_in_their_order() -> None:
    tree = ast.parse((REPO / "assistant/pipeline/chain.py").read_text(encoding="utf-8"))
    declared = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "STAGES"
    )
    assert declared == STAGES


def test_no_import_cycles() -> None:
    edges = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the path, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_no_module_is_over_400_lines() -> None:
    long = {
        name: n
        for name, path in module_files().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, long


def test_app_only_names_the_entry_points() -> None:
    assert graph()["app"] == {"assistant.server", "assistant.frontends.cli.main"}


WEB_STACK = ("fastapi", "gradio", "starlette")


def runtime_imports(path: Path) -> set[str]:
    """The top-level packages a file imports when it runs (``if TYPE_CHECKING:`` blocks are types)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def test_no_module_outside_the_front_ends_imports_the_web_stack() -> None:
    frontends = REPO / "assistant" / "frontends"
    outside = {
        name: sorted(runtime_imports(path) & set(WEB_STACK))
        for name, path in module_files().items()
        if frontends not in path.parents
    }
    assert {name: found for name, found in outside.items() if found} == {}


def test_the_public_names_import_and_import_assistant_builds_nothing() -> None:
    script = (
        "import sys, assistant\n"
        "heavy = sorted(m for m in ('torch', 'chromadb', 'gradio', 'fastapi', 'sentence_transformers') "
        "if m in sys.modules)\n"
        "assert heavy == [], heavy\n"
        "missing = [n for n in assistant.__all__ if getattr(assistant, n, None) is None]\n"
        "assert missing == [], missing\n"
        "assert sorted(assistant.__all__) == sorted(assistant._HOMES), 'every public name has one home'\n"
        "assert issubclass(assistant.ConfigError, assistant.NewsdeskError)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
