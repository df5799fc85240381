"""The region's DRG average costs (均费): imported from a CSV file or computed from historical cases.

Both ways are all-or-nothing: a file with one bad row changes nothing, and the row is named.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import BinaryIO

from flask_babel import lazy_gettext as _l

from review.extensions import db
from review.messages import problem_text
from review.models import Case, DrgAverageCost, DrgCatalogue, Hospital, Region
from review.models.types import utcnow
from review.services import activity
from review.services.catalogue import current_scheme
from review.services.context import Actor, NotFound, ValidationFailed
from workflows.money import MoneyError, parse_yuan, round_half_up_fen
from workflows.states import Role

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ERRORS_SHOWN = 50
HEADERS = {
    "drg": ("drg", "drg code", "drg_code", "drg编码", "drg代码", "drg组", "drg 组"),
    "average_cost": ("average_cost", "average cost", "均费", "平均费用", "次均费用"),
    "case_count": ("case_count", "case count", "cases", "病例数", "例数"),
}


@dataclass
class Result:
    written: int = 0
    created: int = 0
    updated: int = 0
    encoding: str | None = None
    skipped: list[dict[str, object]] = field(default_factory=list)
    """compute_from_cases: DRGs left as they were, with their case count and the reason (too_few, unknown)."""
    start: date | None = None
    end: date | None = None


def _region(region_id: int) -> Region:
    region = db.session.get(Region, region_id)
    if region is None:
        raise NotFound(_l("No such region."))
    return region


def normalise_drg(raw: str) -> str:
    """MS-DRG codes are three digits; "21" and "021" mean the same DRG."""
    code = (raw or "").strip().upper()
    return code.zfill(3) if code.isdigit() else code


def catalogue_titles(drgs: list[str] | None = None) -> dict[str, str]:
    query = db.select(DrgCatalogue.drg, DrgCatalogue.title).where(DrgCatalogue.scheme == current_scheme())
    if drgs is not None:
        query = query.where(DrgCatalogue.drg.in_(drgs))
    return dict(db.session.execute(query).all())  # type: ignore[arg-type]


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise ValidationFailed({"file": [str(_l("The file is neither UTF-8 nor GB18030 text; save it as CSV."))]})


def _columns(header: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, name in enumerate(header):
        key = name.strip().lstrip("\ufeff").lower()
        for column, names in HEADERS.items():
            if key in names and column not in found:
                found[column] = index
    return found


def _upsert(region_id: int, figures: dict[str, tuple[int, int]], source: str, result: Result) -> None:
    existing = {row.drg: row for row in db.session.scalars(db.select(DrgAverageCost).where(
        DrgAverageCost.region_id == region_id, DrgAverageCost.drg.in_(list(figures))))}
    now = utcnow()
    for drg, (cost_fen, count) in sorted(figures.items()):
        row = existing.get(drg)
        if row is None:
            db.session.add(DrgAverageCost(region_id=region_id, drg=drg, average_cost_fen=cost_fen, case_count=count,
                                          source=source, updated_at=now))
            result.created += 1
        else:
            row.average_cost_fen, row.case_count, row.source, row.updated_at = cost_fen, count, source, now
            result.updated += 1
        result.written += 1


def import_csv(actor: Actor, region_id: int, stream: BinaryIO | bytes) -> Result:
    """Set average costs from a CSV file (drg, average_cost in yuan, optional case_count)."""
    actor.require(Role.ADMIN)  # the figures every high-cost rule compares against: an administrator's decision
    region = _region(region_id)
    data = stream if isinstance(stream, bytes) else stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValidationFailed({"file": [str(_l("The file is larger than %(n)s MB.", n=MAX_FILE_BYTES // 1048576))]})
    if b"\x00" in data:
        raise ValidationFailed({"file": [str(_l("The file is binary, not CSV text; save it as CSV."))]})
    text, encoding = _decode(data)
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise ValidationFailed({"file": [str(_l("The file is not readable CSV: %(reason)s", reason=str(error)))]})
    if not rows:
        raise ValidationFailed({"file": [str(_l("The file is empty."))]})
    columns = _columns(rows[0])
    missing = [name for name in ("drg", "average_cost") if name not in columns]
    if missing:
        raise ValidationFailed({"file": [str(_l(
            "The first row must name the columns: drg and average_cost (or DRG and 均费 / 平均费用), "
            "optionally case_count (病例数). Found: %(found)s", found=", ".join(rows[0]) or "—"))]})
    known = set(catalogue_titles())
    errors: list[str] = []
    figures: dict[str, tuple[int, int]] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(column: str) -> str:
            index = columns.get(column)
            return row[index].strip() if index is not None and index < len(row) else ""

        drg = normalise_drg(cell("drg"))
        problems: list[str] = []
        if not drg:
            problems.append(str(_l("the DRG is empty")))
        elif drg not in known:
            problems.append(str(_l("DRG %(drg)s is not in the %(scheme)s catalogue", drg=drg, scheme=current_scheme())))
        elif drg in figures:
            problems.append(str(_l("DRG %(drg)s appears twice in the file", drg=drg)))
        cost_fen = 0
        try:
            cost_fen = parse_yuan(cell("average_cost"))
        except MoneyError as error:
            problems.append(problem_text(error.problem))
        else:
            if cost_fen <= 0:
                problems.append(str(_l("the average cost must be more than 0 yuan")))
        count_text = cell("case_count")
        count = 0
        if count_text:
            if count_text.isascii() and count_text.isdigit():
                count = int(count_text)
            else:
                problems.append(str(_l("the case count %(value)s is not a whole number of 0 or more",
                                       value=count_text)))
        if problems:
            errors.append(str(_l("Row %(n)s: %(problems)s", n=number, problems="; ".join(problems))))
        else:
            figures[drg] = (cost_fen, count)
    if not errors and not figures:
        errors.append(str(_l("The file has no data rows.")))
    if errors:
        shown = errors[:MAX_ERRORS_SHOWN]
        if len(errors) > MAX_ERRORS_SHOWN:
            shown.append(str(_l("… and %(n)s more rows with errors.", n=len(errors) - MAX_ERRORS_SHOWN)))
        shown.append(str(_l("Nothing was changed: correct the file and upload it again.")))
        raise ValidationFailed({"file": shown})
    result = Result(encoding=encoding)
    _upsert(region.id, figures, "imported", result)
    activity.record(actor, "average_costs.imported", "region", region.id, None, {
        "rows": result.written, "created": result.created, "updated": result.updated, "encoding": encoding},
                    region_id=region.id)
    db.session.commit()
    return result


def default_range(today: date) -> tuple[date, date]:
    """The previous 12 full months: 2026-05-10 -> 2025-05-01 .. 2026-04-30."""
    end = today.replace(day=1) - timedelta(days=1)
    start = date(end.year - 1, end.month, 1) + timedelta(days=32)
    return start.replace(day=1), end


def compute_from_cases(actor: Actor, region_id: int, start: date, end: date, min_cases: int) -> Result:
    """Average cost per DRG from the region's cases discharged between start and end (inclusive).

    Only DRGs with at least `min_cases` cases are written (source "computed", replacing the existing row);
    the others keep their figure and are listed in `skipped`.
    """
    actor.require(Role.ADMIN)  # the figures every high-cost rule compares against: an administrator's decision
    region = _region(region_id)
    errors: dict[str, list[str]] = {}
    if start is None or end is None:
        errors["start"] = [str(_l("Enter both dates."))]
    elif start > end:
        errors["end"] = [str(_l("The end date cannot be before the start date."))]
    if isinstance(min_cases, bool) or not isinstance(min_cases, int) or min_cases < 1:
        errors["min_cases"] = [str(_l("The minimum number of cases must be a whole number of 1 or more."))]
    if errors:
        raise ValidationFailed(errors)
    grouped = db.session.execute(
        db.select(Case.drg, db.func.count(), db.func.sum(Case.total_cost_fen))
        .join(Hospital, Hospital.id == Case.hospital_id)
        .where(Hospital.region_id == region.id, Case.discharge_date >= start, Case.discharge_date <= end)
        .group_by(Case.drg).order_by(Case.drg)).all()
    known = set(catalogue_titles())
    result = Result(start=start, end=end)
    figures: dict[str, tuple[int, int]] = {}
    for drg, count, total in grouped:
        if drg not in known:
            result.skipped.append({"drg": drg, "case_count": count, "reason": "unknown"})
        elif count < min_cases:
            result.skipped.append({"drg": drg, "case_count": count, "reason": "too_few"})
        else:
            figures[drg] = (round_half_up_fen(Decimal(int(total)) / Decimal(count)), count)
    _upsert(region.id, figures, "computed", result)
    activity.record(actor, "average_costs.computed", "region", region.id, None, {
        "start": start.isoformat(), "end": end.isoformat(), "min_cases": min_cases, "written": result.written,
        "created": result.created, "updated": result.updated, "skipped": len(result.skipped),
        "skipped_drgs": [s["drg"] for s in result.skipped][:200]}, region_id=region.id)
    db.session.commit()
    return result
