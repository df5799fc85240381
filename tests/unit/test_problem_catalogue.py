"""Every problem code the product can produce has a wording in the shell's catalogue, and no wording is dead.

The codes are read from the source of the core and of the shell (every string given as the code of a
`Problem(...)` or of a `ProblemError`), plus the code-editor edits, whose codes are named in one table
(`grouping.EDIT_PROBLEMS`) because the code editor says at run time which edit fired. A new code without a wording
fails here before any reader meets a raw code. Translations of the wordings are checked by test_translations.py
like every other UI string.
"""
from __future__ import annotations

import ast
from pathlib import Path

from flask import Flask
from flask_babel import Babel, force_locale

from review import messages
from workflows.grouping import EDIT_PROBLEMS
from workflows.problems import Problem

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [*(ROOT / "workflows").glob("*.py"), *(ROOT / "review").rglob("*.py")]


def _codes_in_source() -> set[str]:
    """Codes given to `Problem(...)`, to a `ProblemError` subclass, or to `super().__init__` inside one."""
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in SOURCES]
    carriers = {"Problem", "ProblemError"}
    for tree in trees:
        carriers |= {node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
                     and any(getattr(base, "id", None) == "ProblemError" for base in node.bases)}
    codes: set[str] = set()
    for tree in trees:
        for scope in ast.walk(tree):
            inside_carrier = isinstance(scope, ast.ClassDef) and scope.name in carriers
            for node in ast.walk(scope) if inside_carrier or isinstance(scope, ast.Module) else ():
                if not (isinstance(node, ast.Call) and node.args):
                    continue
                named = getattr(node.func, "id", None) in carriers
                via_super = inside_carrier and isinstance(node.func, ast.Attribute) and node.func.attr == "__init__"
                if named or via_super:
                    codes |= {c.value for c in ast.walk(node.args[0])
                              if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return codes


def test_every_code_has_a_wording_and_every_wording_a_code() -> None:
    codes = _codes_in_source() | set(EDIT_PROBLEMS.values())
    assert {"eligibility.high_cost.met", "intake.required", "money.negative"} <= codes
    assert sorted(codes - set(messages.PROBLEM_TEXT)) == []
    assert sorted(set(messages.PROBLEM_TEXT) - codes) == []


def test_a_stored_problem_reads_in_the_readers_language() -> None:
    app = Flask(__name__)
    Babel(app, default_translation_directories=str(Path(messages.__file__).parent / "translations"))
    stored = Problem("eligibility.high_cost.met", cost_fen=18_640_000, average_fen=4_438_000, ratio="4.20",
                     threshold="3.0").to_json()
    with app.app_context():
        with force_locale("en"):
            assert messages.problem_text(stored) == (
                "cost 186,400.00 yuan = 4.20 × the DRG's average 44,380.00 yuan ≥ 3.0")
        with force_locale("zh_CN"):
            chinese = messages.problem_text(stored)
    assert "186,400.00" in chinese and "元" in chinese and "yuan" not in chinese
