"""The domain core must stay importable without the web, database or queue stack."""

import ast
from pathlib import Path

import pytest

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
FORBIDDEN = ("flask", "sqlalchemy", "celery", "review")


def _imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def _forbidden(root: str) -> bool:
    return any(root == name or root.startswith(f"{name}_") for name in FORBIDDEN)


def test_workflows_has_modules() -> None:
    assert len(list(WORKFLOWS.rglob("*.py"))) >= 9


@pytest.mark.parametrize("path", sorted(WORKFLOWS.rglob("*.py")), ids=lambda p: p.name)
def test_no_forbidden_imports(path: Path) -> None:
    roots = _imported_roots(ast.parse(path.read_text(), filename=str(path)))
    assert not {root for root in roots if _forbidden(root)}


def test_checker_detects_forbidden_imports() -> None:
    tree = ast.parse("import flask_login\nfrom sqlalchemy.orm import Mapped\nfrom review import x\nimport os")
    assert {root for root in _imported_roots(tree) if _forbidden(root)} == {
        "flask_login",
        "sqlalchemy",
        "review",
    }
