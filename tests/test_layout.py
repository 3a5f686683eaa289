"""The installed namespace and the layer rules of ../shared/DESIGN.md, checked on the source tree."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("repo_index", "sandbox", "localize", "reproduce", "repair", "swebench_runner")
LEAVES = ("repo_index", "sandbox")
STAGES = ("localize", "reproduce", "repair")


def _imports(path: Path) -> list[str]:
    """Every module name a file imports, absolute form."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "patchsmith":  # `from patchsmith import repo_index` names the module it binds
                names += [f"patchsmith.{alias.name}" for alias in node.names]
            else:
                names.append(node.module)
    return names


def _sources(*folders: str) -> list[Path]:
    return [p for folder in folders for p in (ROOT / folder).rglob("*.py") if "fixtures" not in p.parts]


def test_nothing_imports_a_folder_by_its_bare_name():
    bare = [f"{p.relative_to(ROOT)}: {name}" for p in _sources(*FOLDERS, "patchsmith", "tests", "bench")
            for name in _imports(p) if name.split(".")[0] in FOLDERS]
    assert bare == []


def _ours(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "patchsmith":
        return None
    return parts[1] if len(parts) > 1 and parts[1] in FOLDERS else "patchsmith"


def test_layers_import_in_one_direction():
    wrong = []
    for folder in LEAVES + STAGES:
        for path in _sources(folder):
            for name in _imports(path):
                target = _ours(name)
                if target is None or target == folder:
                    continue
                # A stage may take another stage's result types from that package's __init__, no deeper.
                other_stage_surface = target in STAGES and name == f"patchsmith.{target}"
                if folder in LEAVES or (target not in LEAVES and not other_stage_surface):
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def test_the_swebench_runner_imports_no_top_package_module_and_the_sandbox_by_its_surface():
    """The command layer (patchsmith/) imports swebench_runner, so swebench_runner importing it back
    would be a cycle; the pipeline reaches it as an argument (patchsmith.instance_solver). Like a
    stage, it uses the sandbox through the sandbox's __init__."""
    wrong = []
    for path in _sources("swebench_runner"):
        for name in _imports(path):
            target = _ours(name)
            if target == "patchsmith" and name != "patchsmith.sandbox":
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
            elif target == "sandbox" and name != "patchsmith.sandbox":
                wrong.append(f"{path.relative_to(ROOT)} imports {name} (past the sandbox's __init__)")
    assert wrong == []


def test_lite_environment_tags_are_unchanged():
    """Every Lite (repo, version) keeps the image tag it had, so images already built stay valid."""
    from patchsmith.sandbox import BaseSpec
    from patchsmith.swebench_runner.dataset import load_instances
    from patchsmith.swebench_runner.environments import image_tag
    from patchsmith.swebench_runner.specs import spec_for

    expected = json.loads((ROOT / "tests" / "fixtures" / "lite_env_tags.json").read_text())
    # ../shared next to the main checkout, or next to the folder of work trees (/work/wt/NAME).
    lite = [root / "shared" / "data" / "swebench_lite_test.jsonl" for root in (ROOT.parent, ROOT.parents[1])]
    instances = load_instances(next((path for path in lite if path.is_file()), lite[0]))
    found = {}
    for repo, version in sorted({(i.repo, i.version) for i in instances}):
        spec = spec_for(repo, version)
        found[f"{repo}@{version}"] = image_tag(spec, "0" * 40, BaseSpec(suite=spec.suite).tag)
    assert len(found) == 64
    assert found == expected


@pytest.mark.timeout(300)
def test_installed_distribution_adds_only_the_patchsmith_namespace(tmp_path: Path):
    wheel_dir, source = tmp_path / "wheel", tmp_path / "source"
    # A copy, so that setuptools' build/ folder is not left in the work tree.
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", "patchsmith-runs"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheel_dir), str(source)],
                   check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = wheel_dir.glob("patchsmith-*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"patchsmith"}
    names = zipfile.ZipFile(wheel).namelist()
    assert "patchsmith/sandbox/container.py" in names and "patchsmith/swebench_runner/local_internet.py" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, capture_output=True)
    probe = ("import importlib.util as u; "
             "print([u.find_spec(n) is not None for n in ('sandbox', 'repair', 'swebench_runner', 'patchsmith.sandbox', 'patchsmith.repair')])")
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert done.stdout.strip() == "[False, False, False, True, True]"
