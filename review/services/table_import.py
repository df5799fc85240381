"""The one shape of an administrator's register import (experts, hospitals): read a CSV/XLSX file, check every
row, show what would be created or updated, and write all of it or nothing.

A domain supplies its columns, a row parser and the stored values of an object; this module does the rest:
header aliases, row errors naming row and column, codes repeated in the file, create-or-update by code, the
per-object diff and the register rows. It never commits: the caller's service owns the transaction, so a domain
can add its own work (logins for new experts) to the same one.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from review.extensions import db
from review.intake.readers import FileRejected, open_table
from review.messages import problem_text
from review.services import activity
from review.services.context import Actor, ValidationFailed

M = TypeVar("M")
Values = dict[str, Any]
Changes = dict[str, list[object]]


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    """The domain's field name; the page shows the file column it comes from (`Spec.column_of`)."""
    message: str


@dataclass(frozen=True)
class Spec:
    columns: Mapping[str, tuple[str, ...]]
    """Column name → the headers accepted for it (the first is the template's)."""
    required: tuple[str, ...]
    max_rows: int
    max_bytes: int


@dataclass(frozen=True)
class PlannedRow:
    row: int
    code: str
    values: Values
    changes: Changes
    """Field → [stored, new]; for a new object every field, with None as the stored value."""
    new: bool


@dataclass(frozen=True)
class Plan:
    rows: tuple[PlannedRow, ...]
    errors: tuple[RowError, ...]

    @property
    def created(self) -> int:
        return sum(row.new for row in self.rows)

    @property
    def updated(self) -> int:
        return sum(not row.new and bool(row.changes) for row in self.rows)

    @property
    def unchanged(self) -> int:
        return sum(not row.changes for row in self.rows)


@dataclass(frozen=True)
class Outcome:
    created: int
    updated: int
    errors: tuple[RowError, ...]
    created_ids: tuple[int, ...] = ()


RowParser = Callable[[int, dict[str, str], M | None], tuple[Values | None, list[RowError]]]
"""(row number, cells by column, the stored object of that code or None) → (the values to store, or None when the
row cannot be read; its errors)."""


def diff(before: Values, after: Values) -> Changes:
    return {key: [before.get(key), value] for key, value in after.items() if before.get(key) != value}


def apply(target: object, before: Values, values: Values) -> Changes:
    """Write `values` onto `target` and return what changed (the register stores this diff)."""
    changes = diff(before, values)
    for key, value in values.items():
        setattr(target, key, value)
    return changes


def _rows(path: Path, spec: Spec) -> list[tuple[int, dict[str, str]]]:
    """The file's rows keyed by column name, or ValidationFailed on the `file` field for a file-level refusal."""
    lookup = {alias.lower(): name for name, aliases in spec.columns.items() for alias in aliases}
    try:
        table = open_table(path, max_bytes=spec.max_bytes, max_rows=spec.max_rows)
        mapping = {index: lookup[h.strip().lower()] for index, h in enumerate(table.headers)
                   if h.strip().lower() in lookup}
        missing = [name for name in spec.required if name not in mapping.values()]
        if missing:
            raise ValidationFailed({"file": [str(_l("The file lacks the column(s): %(columns)s.",
                                                    columns=", ".join(missing)))]})
        return [(number, {name: cells[index].strip() if index < len(cells) else ""
                          for index, name in mapping.items()}) for number, cells in table.rows]
    except FileRejected as error:
        raise ValidationFailed({"file": [problem_text(error.problem)]}) from error


def plan(path: Path, spec: Spec, existing: Mapping[str, M], parse: RowParser[M],
         profile: Callable[[M], Values]) -> Plan:
    """Check every row against the stored objects (matched on `code`) without writing anything."""
    errors: list[RowError] = []
    planned: list[PlannedRow] = []
    seen: dict[str, int] = {}
    for number, cells in _rows(path, spec):
        code = cells.get("code", "")
        current = existing.get(code)
        values, row_errors = parse(number, cells, current)
        errors.extend(row_errors)
        if code in seen and not row_errors:
            row_errors = [RowError(number, "code", str(_l("The code %(code)s is also on row %(row)s.",
                                                          code=code, row=seen[code])))]
            errors.extend(row_errors)
        seen.setdefault(code, number)
        if values is not None and not row_errors:
            planned.append(PlannedRow(number, code, values,
                                      diff(profile(current) if current is not None else {}, values),
                                      new=current is None))
    return Plan(rows=tuple(planned), errors=tuple(errors))


def write(actor: Actor, plan_: Plan, existing: Mapping[str, M], create: Callable[[], M],
          profile: Callable[[M], Values], object_type: str, file_name: str) -> Outcome:
    """Write a checked plan (no errors) in the caller's transaction: one register row per changed object and one
    for the file. The caller commits."""
    assert not plan_.errors, "a plan with errors is never written"
    created: list[Any] = []
    updated = 0
    for row in plan_.rows:
        target = existing.get(row.code)
        if target is None:
            target = create()
            db.session.add(target)
            created.append(target)
            before: Values = {}
        else:
            updated += 1
            before = profile(target)
        changes = apply(target, before, row.values)
        db.session.flush()
        if changes:
            object_id = target.id  # type: ignore[attr-defined]
            activity.record(actor, f"{object_type}.imported", object_type, object_id, None, {"changes": changes})
    activity.record(actor, f"{object_type}.import_finished", object_type, None, None,
                    {"file": file_name, "created": len(created), "updated": updated})
    return Outcome(created=len(created), updated=updated, errors=(),
                   created_ids=tuple(target.id for target in created))


def template_csv(spec: Spec, example: Mapping[str, str], example_zh: Mapping[str, str]) -> str:
    """A one-row CSV template in the reader's language: a Chinese office gets the first Chinese header of each
    column and the example's Chinese spellings (both languages' headers are read back)."""
    locale = get_locale()
    chinese = locale is not None and locale.language == "zh"
    headers = [next((h for h in names if not h.isascii()), names[0]) if chinese else names[0]
               for names in spec.columns.values()]
    values = [{**example, **(example_zh if chinese else {})}[name] for name in spec.columns]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([headers, values])
    return buffer.getvalue()


def yes_no(text: str, default: bool, field: str, row: int) -> tuple[bool, list[RowError]]:
    """A yes/no cell (English or Chinese); empty keeps `default`."""
    folded = text.strip().lower()
    if not folded:
        return default, []
    if folded in YES:
        return True, []
    if folded in NO:
        return False, []
    return default, [RowError(row, field, str(_l("Expected yes or no, found %(value)s.", value=text)))]


YES = {"1", "yes", "y", "true", "是"}
NO = {"0", "no", "n", "false", "否"}
