"""First set-up of a bureau's database: its region, policy version 1, the DRG catalogue, the working-day calendar
and the first administrator, in one transaction, once.

A bureau that installs by the README and does not load the demo has an empty database after `flask db upgrade`;
this is what makes it a working bureau (`flask --app wsgi setup`, review/cli_setup.py). Everything else (hospitals,
experts, users) the administrator then adds on the pages. Running it again is refused: the region exists.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import available_timezones

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import text

from review.auth import hash_password
from review.extensions import db
from review.messages import problem_text
from review.models import DrgCatalogue, Policy, Region, User
from review.services import activity, catalogue, holidays, passwords
from review.services.context import SYSTEM, ServiceError, ValidationFailed
from review.services.users import USERNAME
from workflows.money import MoneyError, parse_yuan

REGION_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$")
NAME_CHARS = 200
ADMIN_NAME_CHARS = 120


@dataclass(frozen=True)
class SetupInput:
    region_code: str
    region_name_en: str
    region_name_zh: str
    timezone: str
    base_rate_yuan: str
    admin_username: str
    admin_name: str
    admin_password: str


@dataclass(frozen=True)
class SetupResult:
    region_id: int
    admin_id: int
    scheme: str
    catalogue_rows: int
    """Rows loaded now (0 when a catalogue was loaded before set-up)."""
    holidays: int


class AlreadySetUp(ServiceError):
    pass


def _existing_region() -> Region | None:
    return db.session.scalars(db.select(Region).order_by(Region.id).limit(1)).first()


def _errors(data: SetupInput) -> tuple[dict[str, list[str]], int]:
    """Every wrong value, keyed by the command's option names, and the base rate in fen."""
    errors: dict[str, list[str]] = {}
    if not REGION_CODE.fullmatch(data.region_code) or data.region_code.lower() == activity.GLOBAL_CHAIN:
        errors["region_code"] = [str(_l("The region code is 1 to 20 letters, digits, '-' or '_' (not “%(word)s”).",
                                        word=activity.GLOBAL_CHAIN))]
    for name in ("region_name_en", "region_name_zh"):
        if not 0 < len(getattr(data, name)) <= NAME_CHARS:
            errors[name] = [str(_l("Required, at most %(n)s characters.", n=NAME_CHARS))]
    if data.timezone not in available_timezones():
        errors["timezone"] = [str(_l("%(zone)s is not a time zone name such as Asia/Shanghai.", zone=data.timezone))]
    base_rate_fen = 0
    try:
        base_rate_fen = parse_yuan(data.base_rate_yuan)
    except MoneyError as error:
        errors["base_rate_yuan"] = [problem_text(error.problem)]
    else:
        if base_rate_fen <= 0:
            errors["base_rate_yuan"] = [str(_l("The base rate must be more than zero."))]
    if not USERNAME.fullmatch(data.admin_username):
        errors["admin_username"] = [str(_l("The user name is 3–80 lower-case letters, digits, '.', '_', '-' or '@', "
                                           "starting with a letter or digit."))]
    if not 0 < len(data.admin_name) <= ADMIN_NAME_CHARS:
        errors["admin_name"] = [str(_l("Required, at most %(n)s characters.", n=ADMIN_NAME_CHARS))]
    found = passwords.problems(data.admin_password, data.admin_username)
    if found:
        errors["admin_password"] = found
    return errors, base_rate_fen


def _cleaned(data: SetupInput) -> SetupInput:
    return SetupInput(data.region_code.strip(), data.region_name_en.strip(), data.region_name_zh.strip(),
                      data.timezone.strip(), data.base_rate_yuan.strip(), data.admin_username.strip().lower(),
                      data.admin_name.strip(), data.admin_password)


def run(data: SetupInput) -> SetupResult:
    """Set the bureau up, or refuse (AlreadySetUp, ValidationFailed) having written nothing."""
    if db.engine.dialect.name == "postgresql":  # two set-ups at once: the second waits, then finds the region
        db.session.execute(text("LOCK TABLE regions IN EXCLUSIVE MODE"))
    existing = _existing_region()
    if existing is not None:
        db.session.rollback()
        raise AlreadySetUp(_l("This database is set up already (region %(code)s, %(name)s); set-up runs once. "
                              "Add hospitals and users on the administrator's pages.", code=existing.code,
                              name=existing.name_en))
    data = _cleaned(data)
    errors, base_rate_fen = _errors(data)
    if errors:
        db.session.rollback()
        raise ValidationFailed(errors)
    region = Region(code=data.region_code, name_en=data.region_name_en, name_zh=data.region_name_zh,
                    timezone=data.timezone)
    db.session.add(region)
    db.session.flush()
    policy = Policy(region_id=region.id, version=1, base_rate_fen=base_rate_fen)  # the rest: policy.DEFAULTS
    admin = User(username=data.admin_username, password_hash=hash_password(data.admin_password), role="admin",
                 display_name=data.admin_name, active=True)
    db.session.add_all([policy, admin])
    loaded = 0
    if db.session.scalar(db.select(DrgCatalogue.id).limit(1)) is None:
        loaded = catalogue.load_weights(current_app.config["DRG_WEIGHTS_FILE"], catalogue.MS_DRG_SCHEME)
    db.session.flush()
    scheme = catalogue.current_scheme()
    activity.record(SYSTEM, "setup.completed", "region", region.id, None, {
        "region": region.code, "timezone": region.timezone, "policy_version": policy.version,
        "base_rate_fen": base_rate_fen, "admin": {"id": admin.id, "username": admin.username},
        "catalogue": {"scheme": scheme, "loaded": loaded}}, region_id=region.id)
    added = holidays.seed(SYSTEM, region.id)  # commits the whole set-up with the calendar (or rolls all back)
    db.session.commit()  # when the calendar had nothing to add
    return SetupResult(region.id, admin.id, scheme, loaded, added)
