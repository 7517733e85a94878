"""The layers of the project, checked on the source with `ast` (nothing is imported):

    nngpt_core (domain)  <-  nngpt_tasks (Prefect tasks)  <-  nngpt_flows (Prefect flows)  <-  nngpt_cli

An arrow points from the importer to what it may import. nngpt_core imports neither Prefect nor any
of the project's orchestration packages or the CLI; tasks never import flows (flows compose tasks);
the folders flows/, tasks/ and cli/ are imported only under their installed names, so no module is
loaded twice under two names. pyproject.toml lists every folder that holds modules.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"nngpt_core": "nngpt_core", "nngpt_tasks": "tasks", "nngpt_flows": "flows", "nngpt_cli": "cli"}
ORCHESTRATION = ("nngpt_tasks", "nngpt_flows", "nngpt_cli", "prefect", "prefect_dask", "dask", "distributed")
FORBIDDEN = {
    "nngpt_core": ORCHESTRATION,
    "nngpt_tasks": ("nngpt_flows", "nngpt_cli"),
    "nngpt_flows": ("nngpt_cli",),
}
BARE_NAMES = ("flows", "tasks", "cli")  # the folders' names: importable from a checkout, never installed


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every absolute import in the file, and every import_module/__import__ of a literal."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def modules_of(folder: str) -> list[Path]:
    paths = sorted((ROOT / folder).rglob("*.py"))
    assert paths, folder
    return paths


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_each_layer_imports_only_the_layers_below_it(package):
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {module}"
             for path in modules_of(FOLDERS[package])
             for line, module in imported_modules(path) if within(module, FORBIDDEN[package])]
    assert not wrong, "\n".join(wrong)


def test_the_folders_are_imported_only_under_their_installed_names():
    sources = [path for folder in (*FOLDERS.values(), "tests", "bench") for path in modules_of(folder)]
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {module}"
             for path in sources for line, module in imported_modules(path) if within(module, BARE_NAMES)]
    assert not wrong, "\n".join(wrong)


def test_prefect_entrypoints_name_installed_modules():
    """Entrypoints and pull steps in deployments/prefect.yaml are module paths under nngpt_flows."""
    text = (ROOT / "deployments/prefect.yaml").read_text()
    paths = re.findall(r"entrypoint:\s*(\S+)", text) + re.findall(r"^\s*-\s*([\w.]+):\s*\{\}", text, re.M)
    assert paths and all(path.startswith("nngpt_flows.") for path in paths), paths


def test_pyproject_installs_every_folder_under_its_name():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = setuptools["package-dir"]
    assert mapping == {name: folder for name, folder in FOLDERS.items() if name != folder}
    expected = set()
    for name, folder in FOLDERS.items():
        for directory in {path.parent for path in modules_of(folder)}:
            expected.add(".".join((name, *directory.relative_to(ROOT / folder).parts)))
    assert set(setuptools["packages"]) == expected
    dockerfile = (ROOT / "docker/Dockerfile").read_text()
    for folder in FOLDERS.values():
        assert re.search(rf"^COPY {folder} \./{folder}$", dockerfile, re.M), f"the Dockerfile does not copy {folder}/"
