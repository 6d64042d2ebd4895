"""pyproject.toml declares what the code imports, and the lock files pin what pyproject asks for.

After a change to the dependencies in pyproject.toml, `make lock` regenerates the locks."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from milestone.config import PROJECT_ROOT

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
RUNTIME = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
DEV = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]]
APP_FILES = (
    sorted((PROJECT_ROOT / "milestone").rglob("*.py"))
    + sorted((PROJECT_ROOT / "views").glob("*.py"))
    + [PROJECT_ROOT / "app.py"]
)


def _pins(lock: str) -> dict[str, str]:
    """{name: version} of a lock file's `name==version` lines."""
    pins = {}
    for line in (PROJECT_ROOT / lock).read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", line)
        if m:
            pins[canonicalize_name(m[1])] = m[2]
    return pins


def _top_level_imports() -> dict[str, set[str]]:
    """{top-level module: files importing it}, for the application's own code."""
    found: dict[str, set[str]] = {}
    for path in APP_FILES:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(PROJECT_ROOT)))
    return found


def test_every_third_party_import_is_a_declared_dependency():
    declared = {canonicalize_name(r.name) for r in RUNTIME}
    providers = packages_distributions()
    undeclared = {}
    for module, files in _top_level_imports().items():
        if module in sys.stdlib_module_names or module in ("milestone", "__future__"):
            continue
        dists = {canonicalize_name(d) for d in providers.get(module, [module])}
        if not dists & declared:
            undeclared[module] = sorted(files)
    assert undeclared == {}, "imported but not in [project] dependencies of pyproject.toml"


def test_the_runtime_lock_pins_every_dependency_within_its_range():
    pins = _pins("requirements.lock")
    for req in RUNTIME:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in requirements.lock: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {req.name}=={pins[name]}, outside {req.specifier}: run `make lock`"
        )


def test_the_dev_lock_pins_the_dev_tools_and_the_same_runtime_versions():
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    for req in DEV:
        name = canonicalize_name(req.name)
        assert name in dev, f"{req.name} is not in requirements-dev.lock: run `make lock`"
        assert req.specifier.contains(dev[name], prereleases=True), f"{req.name}=={dev[name]}: run `make lock`"
    assert {n: v for n, v in dev.items() if n in runtime} == runtime


def test_every_pin_carries_its_hashes():
    for lock in ("requirements.lock", "requirements-dev.lock"):
        entries = re.split(r"\n(?=[A-Za-z0-9])", (PROJECT_ROOT / lock).read_text())
        pinned = [e for e in entries if re.match(r"^[A-Za-z0-9][^\n]*==", e)]
        assert pinned and all("--hash=sha256:" in e for e in pinned), lock
