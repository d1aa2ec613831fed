"""The layers of docs/architecture.md hold, and a new import that breaks them fails `make test`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run the project's contracts over the `fedicity` package found in `tree`."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package that a test may break."""
    tree = tmp_path_factory.mktemp("tree")
    shutil.copytree(
        ROOT / "fedicity", tree / "fedicity", ignore=shutil.ignore_patterns("__pycache__", "data")
    )
    return tree


def test_the_code_keeps_every_contract() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # A domain package reaching up into the face
        ("fedicity/posts/service.py", "from fedicity.web import app", "Layers"),
        # The protocol knowing a citizen
        ("fedicity/activitypub/keys.py", "from fedicity.actors import models", "Layers"),
        # A cycle between two domain packages
        ("fedicity/actors/models.py", "import fedicity.proposals.models", "Layers"),
        # The queues importing a domain package
        ("fedicity/inbound/queries.py", "from fedicity.posts import queries", "Layers"),
        # A domain package speaking HTTP to people
        ("fedicity/events/service.py", "import quart", "Quart"),
    ],
)
def test_an_import_against_the_architecture_fails(
    tree_copy: Path, module: str, line: str, broken: str
) -> None:
    path = tree_copy / module
    original = path.read_text()
    path.write_text(original + f"\n{line}  # noqa\n")
    try:
        result = _lint_imports(tree_copy)
    finally:
        path.write_text(original)
    assert result.returncode != 0, result.stdout
    assert f"{broken}" in result.stdout
    assert "BROKEN" in result.stdout
