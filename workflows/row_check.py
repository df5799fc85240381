"""One import row checked end to end: parsed, code-edited and grouped.

Kept apart from the writing so the checks can run in several processes: a row's verdict depends only
on the row itself, the payer's rules and the grouper, never on other rows or the database.
"""

from dataclasses import dataclass

from workflows.grouping import DEFAULT_BLOCKING_EDITS, CaseCoding, CodeIssue, Grouper
from workflows.intake import DEFAULT_MAX_CASE_COST_FEN, CaseRow, RowError, parse_row
from workflows.money import Fen
from workflows.problems import Problem


@dataclass(frozen=True)
class RowRules:
    """The policy's figures a row is checked against."""

    max_case_cost_fen: Fen = DEFAULT_MAX_CASE_COST_FEN
    blocking_edits: frozenset[str] = frozenset(DEFAULT_BLOCKING_EDITS)


@dataclass(frozen=True)
class RowCheck:
    row: int
    parsed: CaseRow | None
    drg: str | None
    errors: tuple[RowError, ...]
    mcc_codes: tuple[str, ...] = ()
    warnings: tuple[CodeIssue, ...] = ()
    """Code-editor findings this payer records with the case instead of refusing it."""


def check_row(row: int, values: dict[str, str], grouper: Grouper, rules: RowRules = RowRules()) -> RowCheck:
    parsed = parse_row(row, values, rules.max_case_cost_fen)
    if isinstance(parsed, list):
        return RowCheck(row, None, None, tuple(parsed))
    result = grouper.group(CaseCoding(
        age=parsed.age, sex=parsed.sex, discharge_date=parsed.discharge_date, principal_dx=parsed.principal_dx,
        secondary_dx=parsed.secondary_dx, procedures=parsed.procedures))
    blocking, warnings = result.split(rules.blocking_edits)
    if result.grouped and not blocking:
        return RowCheck(row, parsed, result.drg, (), result.mcc_codes, warnings)
    errors = tuple(RowError(row, issue.field, issue.problem, issue.code or "") for issue in blocking)
    return RowCheck(row, parsed, None, errors or (RowError(
        row, "principal_dx", Problem("grouping.not_grouped", answer=result.return_code), parsed.principal_dx),))
