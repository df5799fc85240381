"""The expert pool: profiles, CSV import, declared conflicts and specialty stand-ins (administrators edit,
the review office and auditors read). Every change is written to the register with what changed."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask_babel import lazy_gettext as _l

from review.extensions import db
from review.models import Expert, ExpertConflict, Hospital, SpecialtyRelation
from review.services import activity, table_import, users
from review.services.context import Actor, NotFound, ServiceError, ValidationFailed
from workflows.pool import SPECIALTIES, TITLES, parse_specialties
from workflows.states import Role

CODE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
MAX_CAP = 1000
DEFAULT_CAP = 30
MAX_IMPORT_ROWS = 20_000
MAX_IMPORT_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class ExpertInput:
    code: str
    name_en: str
    name_zh: str
    title: str
    hospital_code: str
    specialties: tuple[str, ...]
    cap_per_cycle: int
    active: bool = True
    note: str = ""


def _check(data: ExpertInput, hospitals: dict[str, int]) -> dict[str, str]:
    """Field → message for everything wrong with one profile (form and import share these messages)."""
    errors: dict[str, str] = {}
    if not CODE.fullmatch(data.code):
        errors["code"] = str(_l("The expert code is 1–20 letters, digits, '-' or '_'."))
    if not data.name_en.strip() or len(data.name_en) > 120:
        errors["name_en"] = str(_l("The English name is required (at most 120 characters)."))
    if not data.name_zh.strip() or len(data.name_zh) > 120:
        errors["name_zh"] = str(_l("The Chinese name is required (at most 120 characters)."))
    if data.title not in TITLES:
        errors["title"] = str(_l("The title must be one of: %(titles)s.", titles=", ".join(TITLES)))
    if data.hospital_code not in hospitals:
        errors["hospital"] = str(_l("No contracted hospital has the code %(code)s.", code=data.hospital_code or "—"))
    unknown = [s for s in data.specialties if s not in SPECIALTIES]
    if not data.specialties or unknown:
        errors["specialties"] = str(_l("Give one or more known specialties (unknown: %(words)s).",
                                       words=", ".join(unknown) or "—"))
    if not 0 <= data.cap_per_cycle <= MAX_CAP:
        errors["cap_per_cycle"] = str(_l("The cap per cycle is a whole number from 0 to %(max)s.", max=MAX_CAP))
    return errors


def _hospitals() -> dict[str, int]:
    return dict(db.session.execute(db.select(Hospital.code, Hospital.id)).all())


def _profile(expert: Expert) -> dict[str, object]:
    return {"code": expert.code, "name_en": expert.name_en, "name_zh": expert.name_zh, "title": expert.title,
            "hospital_id": expert.hospital_id, "specialties": list(expert.specialties or []),
            "cap_per_cycle": expert.cap_per_cycle, "active": expert.active, "note": expert.note}


def _values(data: ExpertInput, hospital_id: int) -> dict[str, object]:
    """The stored values of a checked profile, in the shape of `_profile` (so the two compare)."""
    return {"code": data.code, "name_en": data.name_en.strip(), "name_zh": data.name_zh.strip(),
            "title": data.title, "hospital_id": hospital_id, "specialties": list(data.specialties),
            "cap_per_cycle": data.cap_per_cycle, "active": data.active, "note": data.note.strip()}


def save(actor: Actor, expert_id: int | None, data: ExpertInput) -> Expert:
    actor.require(Role.ADMIN)
    hospitals = _hospitals()
    errors = _check(data, hospitals)
    taken = db.session.scalar(db.select(Expert.id).where(Expert.code == data.code))
    if taken is not None and taken != expert_id:
        errors["code"] = str(_l("Another expert already has the code %(code)s.", code=data.code))
    if errors:
        raise ValidationFailed({field: [message] for field, message in errors.items()})
    if expert_id is None:
        expert = Expert()
        db.session.add(expert)
    else:
        expert = db.session.get(Expert, expert_id)  # type: ignore[assignment]
        if expert is None:
            raise NotFound(_l("No such expert."))
    changes = table_import.apply(expert, _profile(expert) if expert_id else {},
                                 _values(data, hospitals[data.hospital_code]))
    db.session.flush()
    activity.record(actor, "expert.created" if expert_id is None else "expert.updated", "expert", expert.id, None,
                    {"changes": changes})
    db.session.commit()
    return expert


# --- CSV / XLSX import (the shared shape: review/services/table_import.py) -----------------------------------

COLUMNS = {
    "code": ("code", "编号", "专家编号"),
    "name_en": ("name_en", "english name", "英文名"),
    "name_zh": ("name_zh", "chinese name", "姓名", "中文名"),
    "title": ("title", "职称"),
    "hospital_code": ("hospital_code", "hospital", "医院编码", "医疗机构编码"),
    "specialties": ("specialties", "specialty", "专业", "专科"),
    "cap_per_cycle": ("cap_per_cycle", "cap", "每期上限"),
    "active": ("active", "在岗", "启用"),
}
REQUIRED = ("code", "name_en", "name_zh", "title", "hospital_code", "specialties")
SPEC = table_import.Spec(COLUMNS, REQUIRED, MAX_IMPORT_ROWS, MAX_IMPORT_BYTES)
RowError = table_import.RowError


@dataclass(frozen=True)
class ImportOutcome(table_import.Outcome):
    invitations: tuple[users.Issued, ...] = ()
    """One per login created for a new expert; their tokens exist nowhere else (shown once)."""


def _row_parser(hospitals: dict[str, int]) -> table_import.RowParser[Expert]:
    def parse(row: int, values: dict[str, str],
              current: Expert | None) -> tuple[dict[str, object] | None, list[RowError]]:
        """One row as a profile. An optional column left out or blank keeps what an existing expert has (a
        re-import must not reactivate, reset the cap of, or erase the note on an expert the file says nothing
        about); a new expert takes the defaults."""
        known, unknown = parse_specialties(values.get("specialties", ""))
        cap_text = values.get("cap_per_cycle", "")
        if cap_text and not (cap_text.isascii() and cap_text.isdigit()):  # "²".isdigit() is True, int("²") fails
            return None, [RowError(row, "cap_per_cycle", str(_l("Expected a whole number, found %(value)s.",
                                                                value=cap_text)))]
        active, errors = table_import.yes_no(values.get("active", ""), current.active if current else True,
                                             "active", row)
        if errors:
            return None, errors
        if cap_text:
            cap = int(cap_text)
        else:
            cap = current.cap_per_cycle if current is not None else DEFAULT_CAP
        data = ExpertInput(code=values.get("code", ""), name_en=values.get("name_en", ""),
                           name_zh=values.get("name_zh", ""),
                           title=values.get("title", "").lower().replace(" ", "_"),
                           hospital_code=values.get("hospital_code", ""), specialties=tuple(known + unknown),
                           cap_per_cycle=cap, active=active, note=current.note if current is not None else "")
        problems = _check(data, hospitals)
        if problems:
            return None, [RowError(row, field, message) for field, message in problems.items()]
        return _values(data, hospitals[data.hospital_code]), []

    return parse


def _existing() -> dict[str, Expert]:
    return {e.code: e for e in db.session.scalars(db.select(Expert))}


def preview(actor: Actor, path: Path) -> table_import.Plan:
    """What importing this file would do, row by row; nothing is written."""
    actor.require(Role.ADMIN)
    return table_import.plan(path, SPEC, _existing(), _row_parser(_hospitals()), _profile)


def import_file(actor: Actor, path: Path, *, file_name: str | None = None,
                create_logins: bool = False) -> ImportOutcome:
    """All or nothing: every row is checked first, and one bad row writes no row at all. With `create_logins`,
    each new expert also gets an expert login and an invitation (review/services/users.py), in the same
    transaction; the outcome's `invitations` then carry the links' tokens, to be shown once."""
    actor.require(Role.ADMIN)
    existing = _existing()
    plan = table_import.plan(path, SPEC, existing, _row_parser(_hospitals()), _profile)
    if plan.errors:
        return ImportOutcome(created=0, updated=0, errors=plan.errors)
    written = table_import.write(actor, plan, existing, Expert, _profile, "expert", file_name or path.name)
    issued = users.logins_for_experts(actor, written.created_ids) if create_logins else ()
    db.session.commit()
    return ImportOutcome(written.created, written.updated, (), written.created_ids, issued)


EXAMPLE = {"code": "E0101", "name_en": "Zhang Wei", "name_zh": "张伟", "title": "chief_physician",
           "hospital_code": "H001", "specialties": "cardiology;critical_care", "cap_per_cycle": "30", "active": "yes"}
"""The template's example row; a Chinese template says 是 (titles and specialties are codes in both)."""


def template_csv() -> str:
    return table_import.template_csv(SPEC, EXAMPLE, {"active": "是"})


# --- conflicts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConflictInput:
    hospital_id: int
    starts_on: date
    ends_on: date | None
    reason: str


def declare_conflict(actor: Actor, expert_id: int, data: ConflictInput) -> ExpertConflict:
    actor.require(Role.ADMIN, Role.EXPERT)
    if actor.role == Role.EXPERT and actor.expert_id != expert_id:
        raise NotFound(_l("No such expert."))
    if db.session.get(Expert, expert_id) is None:
        raise NotFound(_l("No such expert."))
    errors: dict[str, list[str]] = {}
    if db.session.get(Hospital, data.hospital_id) is None:
        errors["hospital_id"] = [str(_l("Choose a contracted hospital."))]
    if data.ends_on is not None and data.ends_on < data.starts_on:
        errors["ends_on"] = [str(_l("The end date cannot be before the start date."))]
    if len(data.reason.strip()) < 5:
        errors["reason"] = [str(_l("Give the reason for the conflict (at least 5 characters)."))]
    if errors:
        raise ValidationFailed(errors)
    conflict = ExpertConflict(expert_id=expert_id, hospital_id=data.hospital_id, starts_on=data.starts_on,
                              ends_on=data.ends_on, reason=data.reason.strip(), created_by_id=actor.user_id)
    db.session.add(conflict)
    db.session.flush()
    activity.record(actor, "expert.conflict_declared", "expert", expert_id, None,
                    {"conflict_id": conflict.id, "hospital_id": data.hospital_id, "starts_on": data.starts_on,
                     "ends_on": data.ends_on, "reason": conflict.reason})
    db.session.commit()
    return conflict


def end_conflict(actor: Actor, conflict_id: int, ends_on: date) -> ExpertConflict:
    """A conflict is closed with an end date, never deleted: past runs must stay explainable."""
    actor.require(Role.ADMIN)
    conflict = db.session.get(ExpertConflict, conflict_id)
    if conflict is None:
        raise NotFound(_l("No such conflict."))
    if ends_on < conflict.starts_on:
        raise ValidationFailed({"ends_on": [str(_l("The end date cannot be before the start date."))]})
    before = conflict.ends_on
    conflict.ends_on = ends_on
    activity.record(actor, "expert.conflict_ended", "expert", conflict.expert_id, None,
                    {"conflict_id": conflict.id, "ends_on": [before, ends_on]})
    db.session.commit()
    return conflict


# --- specialty relations ----------------------------------------------------------------------------


def add_relation(actor: Actor, specialty: str, stand_in: str, *, both_ways: bool = False) -> list[SpecialtyRelation]:
    actor.require(Role.ADMIN)
    if specialty not in SPECIALTIES or stand_in not in SPECIALTIES:
        raise ValidationFailed({"specialty": [str(_l("Choose two known specialties."))]})
    if specialty == stand_in:
        raise ValidationFailed({"stand_in": [str(_l("A specialty cannot stand in for itself."))]})
    pairs = [(specialty, stand_in)] + ([(stand_in, specialty)] if both_ways else [])
    existing = {(r.specialty, r.stand_in) for r in db.session.scalars(db.select(SpecialtyRelation))}
    added = []
    for a, b in pairs:
        if (a, b) in existing:
            continue
        relation = SpecialtyRelation(specialty=a, stand_in=b, created_by_id=actor.user_id)
        db.session.add(relation)
        added.append(relation)
    if not added:
        raise ServiceError(_l("This relation is already recorded."))
    db.session.flush()
    for relation in added:
        activity.record(actor, "specialty_relation.added", "specialty_relation", relation.id, None,
                        {"specialty": relation.specialty, "stand_in": relation.stand_in})
    db.session.commit()
    return added


def remove_relation(actor: Actor, relation_id: int) -> None:
    actor.require(Role.ADMIN)
    relation = db.session.get(SpecialtyRelation, relation_id)
    if relation is None:
        raise NotFound(_l("No such relation."))
    activity.record(actor, "specialty_relation.removed", "specialty_relation", relation.id, None,
                    {"specialty": relation.specialty, "stand_in": relation.stand_in})
    db.session.delete(relation)
    db.session.commit()

