"""Contracted hospitals: administrators add and edit them, one by one or from a CSV/XLSX file matched on code.

An inactive hospital stays on record with all its items, but its users cannot log in (`User.is_active`) and it
cannot be chosen for a new user (review/services/users.py). Every change is written to the register with what
changed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from flask_babel import lazy_gettext as _l

from review.extensions import db
from review.models import Hospital
from review.services import activity, policies, table_import
from review.services.context import Actor, NotFound, ValidationFailed
from workflows.states import Role

CODE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
LEVELS = ("tertiary", "secondary", "primary")
MAX_COEFFICIENT = Decimal("9.9999")
COEFFICIENT_PLACES = 4
MAX_IMPORT_ROWS = 5_000
MAX_IMPORT_BYTES = 900 * 1024
"""A region has hundreds of hospitals (about 100 bytes a row); with the form around it the upload stays under the
default 1 MB request limit (review/config.py MAX_CONTENT_LENGTH)."""


@dataclass(frozen=True)
class HospitalInput:
    code: str
    name_en: str
    name_zh: str
    level: str
    coefficient: str
    """As typed: the check says what is wrong with it rather than failing on Decimal()."""
    active: bool = True


def _coefficient(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    places = -int(value.normalize().as_tuple().exponent) if value.is_finite() else 0
    if not value.is_finite() or value <= 0 or value > MAX_COEFFICIENT or places > COEFFICIENT_PLACES:
        return None
    return value


def _check(data: HospitalInput) -> dict[str, str]:
    """Field → message for everything wrong with one hospital (form and import share these messages)."""
    errors: dict[str, str] = {}
    if not CODE.fullmatch(data.code):
        errors["code"] = str(_l("The hospital code is 1–20 letters, digits, '-' or '_'."))
    if not data.name_en.strip() or len(data.name_en) > 200:
        errors["name_en"] = str(_l("The English name is required (at most 200 characters)."))
    if not data.name_zh.strip() or len(data.name_zh) > 200:
        errors["name_zh"] = str(_l("The Chinese name is required (at most 200 characters)."))
    if data.level not in LEVELS:
        errors["level"] = str(_l("The level must be one of: %(levels)s.", levels=", ".join(LEVELS)))
    if _coefficient(data.coefficient) is None:
        errors["coefficient"] = str(_l("Expected a number above 0 and at most %(max)s, with up to 4 decimals; "
                                       "found %(value)s.", max=MAX_COEFFICIENT, value=data.coefficient or "—"))
    return errors


def _profile(hospital: Hospital) -> dict[str, object]:
    return {"code": hospital.code, "name_en": hospital.name_en, "name_zh": hospital.name_zh,
            "level": hospital.level, "coefficient": hospital.coefficient, "active": hospital.active}


def _values(data: HospitalInput) -> dict[str, object]:
    return {"code": data.code, "name_en": data.name_en.strip(), "name_zh": data.name_zh.strip(),
            "level": data.level, "coefficient": _coefficient(data.coefficient), "active": data.active}


def _new() -> Hospital:
    """A new hospital belongs to the deployment's pooling area (one per deployment)."""
    return Hospital(region_id=policies.default_region().id)


def save(actor: Actor, hospital_id: int | None, data: HospitalInput) -> Hospital:
    actor.require(Role.ADMIN)
    errors = _check(data)
    taken = db.session.scalar(db.select(Hospital.id).where(Hospital.code == data.code))
    if taken is not None and taken != hospital_id:
        errors["code"] = str(_l("Another hospital already has the code %(code)s.", code=data.code))
    if errors:
        raise ValidationFailed({field: [message] for field, message in errors.items()})
    if hospital_id is None:
        hospital = _new()
        db.session.add(hospital)
    else:
        hospital = db.session.get(Hospital, hospital_id)  # type: ignore[assignment]
        if hospital is None:
            raise NotFound(_l("No such hospital."))
    changes = table_import.apply(hospital, _profile(hospital) if hospital_id else {}, _values(data))
    db.session.flush()
    if changes or hospital_id is None:
        activity.record(actor, "hospital.created" if hospital_id is None else "hospital.updated", "hospital",
                        hospital.id, hospital.id, {"changes": changes})
    db.session.commit()
    return hospital


# --- CSV / XLSX import (the shared shape: review/services/table_import.py) -----------------------------------

COLUMNS = {
    "code": ("code", "医院编码", "医疗机构编码", "编码"),
    "name_en": ("name_en", "english name", "英文名称"),
    "name_zh": ("name_zh", "chinese name", "医院名称", "名称"),
    "level": ("level", "等级", "医院等级"),
    "coefficient": ("coefficient", "系数", "医院系数"),
    "active": ("active", "启用"),
}
REQUIRED = ("code", "name_en", "name_zh", "level", "coefficient")
SPEC = table_import.Spec(COLUMNS, REQUIRED, MAX_IMPORT_ROWS, MAX_IMPORT_BYTES)
LEVEL_WORDS = {"三级": "tertiary", "二级": "secondary", "一级": "primary"}


def _parse(row: int, values: dict[str, str],
           current: Hospital | None) -> tuple[dict[str, object] | None, list[table_import.RowError]]:
    """One row as a hospital; an empty `active` keeps what an existing hospital has (a new one is active)."""
    active, errors = table_import.yes_no(values.get("active", ""), current.active if current else True,
                                         "active", row)
    level = values.get("level", "").lower()
    data = HospitalInput(code=values.get("code", ""), name_en=values.get("name_en", ""),
                         name_zh=values.get("name_zh", ""), level=LEVEL_WORDS.get(level, level),
                         coefficient=values.get("coefficient", ""), active=active)
    errors += [table_import.RowError(row, field, message) for field, message in _check(data).items()]
    return (None, errors) if errors else (_values(data), [])


def _existing() -> dict[str, Hospital]:
    return {h.code: h for h in db.session.scalars(db.select(Hospital))}


def preview(actor: Actor, path: Path) -> table_import.Plan:
    """What importing this file would do, row by row; nothing is written."""
    actor.require(Role.ADMIN)
    return table_import.plan(path, SPEC, _existing(), _parse, _profile)


def import_file(actor: Actor, path: Path, *, file_name: str | None = None) -> table_import.Outcome:
    """All or nothing: every row is checked first, and one bad row writes no row at all."""
    actor.require(Role.ADMIN)
    existing = _existing()
    plan = table_import.plan(path, SPEC, existing, _parse, _profile)
    if plan.errors:
        return table_import.Outcome(created=0, updated=0, errors=plan.errors)
    region_id = policies.default_region().id
    outcome = table_import.write(actor, plan, existing, lambda: Hospital(region_id=region_id), _profile, "hospital",
                                 file_name or path.name)
    db.session.commit()
    return outcome


EXAMPLE = {"code": "H001", "name_en": "First People's Hospital", "name_zh": "第一人民医院", "level": "tertiary",
           "coefficient": "1.1000", "active": "yes"}
"""The template's example row; a Chinese template writes the level and yes in Chinese, as the import reads them."""


def template_csv() -> str:
    return table_import.template_csv(SPEC, EXAMPLE, {"level": "三级", "active": "是"})
