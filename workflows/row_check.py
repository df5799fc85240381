"""One import row checked end to end: parsed, code-edited and grouped.

Kept apart from the writing so the checks can run in several processes: a row's verdict depends only
on the row itself and the grouper, never on other rows or the database.
"""

from dataclasses import dataclass

from workflows.grouping import CaseCoding, Grouper
from workflows.intake import CaseRow, RowError, parse_row


@dataclass(frozen=True)
class RowCheck:
    row: int
    parsed: CaseRow | None
    drg: str | None
    errors: tuple[RowError, ...]
    mcc_codes: tuple[str, ...] = ()


def check_row(row: int, values: dict[str, str], grouper: Grouper) -> RowCheck:
    parsed = parse_row(row, values)
    if isinstance(parsed, list):
        return RowCheck(row, None, None, tuple(parsed))
    result = grouper.group(CaseCoding(
        age=parsed.age, sex=parsed.sex, discharge_date=parsed.discharge_date, principal_dx=parsed.principal_dx,
        secondary_dx=parsed.secondary_dx, procedures=parsed.procedures))
    if result.ok and result.drg is not None:
        return RowCheck(row, parsed, result.drg, (), result.mcc_codes)
    errors = tuple(RowError(row, issue.field, issue.message, issue.code or "") for issue in result.issues)
    return RowCheck(row, parsed, None, errors or (RowError(
        row, "principal_dx", f"principal_dx: the case could not be grouped (grouper answer {result.return_code})",
        parsed.principal_dx),))
