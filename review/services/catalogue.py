"""DRG catalogues (weights, titles) by version, and the region's average cost per DRG.

Several catalogue versions ("schemes", e.g. MS-DRG v43 and v44) live side by side in `drg_catalogue`; a loaded
version is never changed, so a cycle can keep reading the version it opened with (`Cycle.catalogue_scheme`) after a
newer one is loaded. New cycles take the newest loaded version (`current_scheme`); cases are priced with the version
of the cycle covering their discharge (`scheme_for`).
"""
from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from flask_babel import lazy_gettext as _l

from review.extensions import db
from review.models import Cycle, DrgAverageCost, DrgCatalogue
from review.models.cycle import BUNDLED_SCHEME
from review.services import activity
from review.services.context import Actor, ServiceError
from workflows.states import Role

MS_DRG_SCHEME = BUNDLED_SCHEME
COLUMNS = ("drg", "mdc", "type", "title", "weight", "gmlos", "amlos")
"""The columns a catalogue file must have (others, such as post_acute, are ignored)."""
SCHEME_CHARS = 40
CODE = re.compile(r"^[0-9A-Za-z]{1,10}$")
TEXT_LIMITS = {"mdc": 10, "type": 10, "title": 300}
OPTIONAL = {"mdc"}
"""The DRGs of no MDC (981-989: procedures unrelated to the principal diagnosis) have none."""
NUMBERS = {"weight": (4, Decimal("100000")), "gmlos": (1, Decimal("100000")), "amlos": (1, Decimal("100000"))}
"""Decimal places and (exclusive) upper bound of each number column, as drg_catalogue stores them."""
MAX_PROBLEMS = 50


@dataclass(frozen=True)
class RowProblem:
    row: int
    """The file's line, the header being row 1."""
    column: str
    message: str


class CatalogueRejected(ServiceError):
    """A file with any bad row loads nothing; `problems` names each row and column."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(_l("The catalogue file has %(n)s problems; nothing was loaded.", n=len(problems)))
        self.problems = problems


@dataclass(frozen=True)
class LoadResult:
    scheme: str
    added: int
    present: int


@dataclass(frozen=True)
class SchemeRow:
    scheme: str
    rows: int
    cycles: int
    current: bool


def _number(text: str, column: str) -> tuple[Decimal | None, str | None]:
    if not text:
        return None, None
    places, limit = NUMBERS[column]
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None, str(_l("%(value)s is not a number", value=text))
    if not value.is_finite() or value <= 0 and column == "weight" or value < 0 or value >= limit:
        return None, str(_l("%(value)s is outside the accepted range", value=text))
    if -value.as_tuple().exponent > places:  # type: ignore[operator]
        return None, str(_l("%(value)s has more than %(n)s decimal places", value=text, n=places))
    return value, None


def _row(number: int, row: dict[str, str], seen: dict[str, int]) -> tuple[dict[str, object] | None, list[RowProblem]]:
    """One file row as a drg_catalogue row (None for an unpaid DRG without a weight), or its problems."""
    cells = {column: (row.get(column) or "").strip() for column in COLUMNS}
    problems: list[RowProblem] = []
    drg = cells["drg"]
    if not CODE.fullmatch(drg):
        problems.append(RowProblem(number, "drg", str(_l("the DRG code is 1 to 10 letters or digits"))))
    elif drg in seen:
        problems.append(RowProblem(number, "drg", str(_l("DRG %(drg)s is already on row %(row)s", drg=drg,
                                                         row=seen[drg]))))
    else:
        seen[drg] = number
    for column, limit in TEXT_LIMITS.items():
        if len(cells[column]) > limit or not cells[column] and column not in OPTIONAL:
            problems.append(RowProblem(number, column, str(_l("required, at most %(n)s characters", n=limit))))
    values: dict[str, Decimal | None] = {}
    for column in NUMBERS:
        values[column], problem = _number(cells[column], column)
        if problem:
            problems.append(RowProblem(number, column, problem))
    if problems or values["weight"] is None:
        return None, problems  # 998/999 (invalid, ungroupable) carry no weight and are never paid
    return {"drg": drg, "mdc": cells["mdc"], "drg_type": cells["type"], "title": cells["title"], **values}, []


def read_file(path: str | Path) -> list[tuple[int, dict[str, object]]]:
    """Every paid row of a catalogue CSV (UTF-8, with or without BOM) with its line; raises CatalogueRejected naming
    each bad row and column."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [column for column in COLUMNS if column not in (reader.fieldnames or ())]
            if missing:
                raise CatalogueRejected([RowProblem(1, column, str(_l("column missing"))) for column in missing])
            rows: list[tuple[int, dict[str, object]]] = []
            problems: list[RowProblem] = []
            seen: dict[str, int] = {}
            for number, raw in enumerate(reader, start=2):
                row, found = _row(number, raw, seen)
                problems.extend(found)
                if row is not None:
                    rows.append((number, row))
    except UnicodeDecodeError as error:
        raise CatalogueRejected([RowProblem(0, "", str(_l("the file is not UTF-8 text")))]) from error
    if problems:
        raise CatalogueRejected(problems[:MAX_PROBLEMS])
    if not rows:
        raise CatalogueRejected([RowProblem(2, "weight", str(_l("the file has no DRG with a weight")))])
    return rows


def _stored(scheme: str) -> dict[str, DrgCatalogue]:
    return {entry.drg: entry for entry in db.session.scalars(db.select(DrgCatalogue).where(
        DrgCatalogue.scheme == scheme))}


def _add(scheme: str, rows: list[tuple[int, dict[str, object]]]) -> tuple[int, int]:
    """Insert the rows the scheme lacks; a row that differs from the stored one is refused (a published version
    does not change: load the new figures under a new scheme name). Returns (added, already present)."""
    stored = _stored(scheme)
    problems = []
    for number, row in rows:
        entry = stored.get(str(row["drg"]))
        if entry is None:
            continue
        for column, attribute in (("title", "title"), ("weight", "weight"), ("mdc", "mdc"), ("type", "drg_type")):
            theirs, ours = getattr(entry, attribute), row["drg_type" if column == "type" else column]
            if (Decimal(theirs) != ours) if column == "weight" else theirs != ours:
                problems.append(RowProblem(number, column, str(_l(
                    "DRG %(drg)s is stored in %(scheme)s as %(stored)s; a loaded version does not change (load the "
                    "new figures under a new scheme name)", drg=entry.drg, scheme=scheme, stored=theirs))))
    if problems:
        raise CatalogueRejected(problems[:MAX_PROBLEMS])
    new = [{"scheme": scheme, **row} for _number, row in rows if row["drg"] not in stored]
    if new:  # one multi-row insert: a catalogue has some 770 rows
        db.session.execute(db.insert(DrgCatalogue), new)
    return len(new), len(rows) - len(new)


def load_weights(path: str | Path, scheme: str = MS_DRG_SCHEME) -> int:
    """Insert the catalogue rows that are missing inside the caller's transaction; re-running it changes nothing."""
    return _add(scheme, read_file(path))[0]


def load_catalogue(actor: Actor, path: str | Path, scheme: str) -> LoadResult:
    """Load a catalogue file as version `scheme` beside the others, all rows or none, and log it."""
    actor.require(Role.ADMIN, Role.SYSTEM)
    scheme = (scheme or "").strip()
    if not scheme or len(scheme) > SCHEME_CHARS:
        raise ServiceError(_l("Name the catalogue version in 1 to %(n)s characters, e.g. MS-DRG v43.",
                              n=SCHEME_CHARS))
    added, present = _add(scheme, read_file(path))
    if added:
        activity.record(actor, "catalogue.loaded", "drg_catalogue", None, None, {
            "scheme": scheme, "added": added, "present": present, "file": Path(path).name,
            "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()})
        db.session.commit()
    return LoadResult(scheme, added, present)


def current_scheme() -> str:
    """The version new cycles take: the one loaded last (the highest row id), the bundled one before any load."""
    return db.session.scalar(db.select(DrgCatalogue.scheme).order_by(DrgCatalogue.id.desc()).limit(1)) \
        or MS_DRG_SCHEME


def is_loaded(scheme: str) -> bool:
    return db.session.scalar(db.select(DrgCatalogue.id).where(DrgCatalogue.scheme == scheme).limit(1)) is not None


def schemes() -> list[SchemeRow]:
    """Every loaded version with its rows and the cycles that read it, oldest first."""
    counted = db.session.execute(db.select(DrgCatalogue.scheme, db.func.count(), db.func.min(DrgCatalogue.id))
                                 .group_by(DrgCatalogue.scheme).order_by(db.func.min(DrgCatalogue.id))).all()
    cycles = dict(db.session.execute(db.select(Cycle.catalogue_scheme, db.func.count())
                                     .group_by(Cycle.catalogue_scheme)).all())
    current = current_scheme()
    return [SchemeRow(scheme, rows, cycles.get(scheme, 0), scheme == current) for scheme, rows, _first in counted]


class RegionWeights:
    """Weights by discharge date for one region: a quarter with a cycle reads its cycle's version, any other day
    the current one. Tables are read once per version."""

    def __init__(self, region_id: int) -> None:
        self._cycles = db.session.execute(db.select(Cycle.quarter_start, Cycle.quarter_end, Cycle.catalogue_scheme)
                                          .where(Cycle.region_id == region_id)).all()
        self._current: str | None = None
        self._tables: dict[str, dict[str, Decimal]] = {}

    def scheme(self, discharge: date) -> str:
        for start, end, scheme in self._cycles:
            if start <= discharge <= end:
                return scheme
        if self._current is None:
            self._current = current_scheme()
        return self._current

    def table(self, discharge: date) -> dict[str, Decimal]:
        scheme = self.scheme(discharge)
        if scheme not in self._tables:
            self._tables[scheme] = weights(scheme)
        return self._tables[scheme]


def scheme_for(region_id: int, discharge: date) -> str:
    """The version a case discharged on that day is priced with."""
    return RegionWeights(region_id).scheme(discharge)


def weights(scheme: str) -> dict[str, Decimal]:
    return {drg: Decimal(weight) for drg, weight in db.session.execute(
        db.select(DrgCatalogue.drg, DrgCatalogue.weight).where(DrgCatalogue.scheme == scheme))}


def catalogue_entry(drg: str, scheme: str = MS_DRG_SCHEME) -> DrgCatalogue | None:
    return db.session.scalars(
        db.select(DrgCatalogue).where(DrgCatalogue.scheme == scheme, DrgCatalogue.drg == drg)
    ).first()


def average_cost_fen(region_id: int, drg: str) -> int | None:
    return db.session.scalars(
        db.select(DrgAverageCost.average_cost_fen).where(
            DrgAverageCost.region_id == region_id, DrgAverageCost.drg == drg)
    ).first()
