"""The region's versioned policy: an administrator's change adds a version, never edits one.

Cycles freeze a snapshot of the policy when they are created, so a new version applies to cycles created
after it and never to a running cycle.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from review.extensions import db
from review.models import Policy, Region
from review.services import activity
from review.services.context import Actor, NotFound, PermissionDenied, ServiceError, ValidationFailed
from workflows.eligibility import Rule
from workflows.grouping import EDIT_KINDS, normalise_code
from workflows.money import MAX_FEN, format_fen
from workflows.policy import EVIDENCE_KINDS
from workflows.pool import HOSPITAL_LEVELS, TITLES
from workflows.states import Role

PAYMENT_METHODS = ("fee_for_service", "cms_outlier")
CATEGORIES = tuple(rule.value for rule in Rule)
EDITABLE = (
    "base_rate_fen", "quota_share", "high_cost_multiple", "high_cost_bands", "long_stay_days", "icu_share",
    "newborn_weight_grams", "newborn_cost_multiple", "new_technology_codes", "panel_size", "appeal_days",
    "appeal_review_days", "payment_method", "fixed_loss_threshold_fen", "min_reviewed_for_extrapolation",
    "panel_min_title", "panel_hospital_levels", "panel_one_per_hospital", "max_case_cost_fen", "blocking_code_edits",
    "required_evidence",
)
DECIMAL_FIELDS = ("quota_share", "high_cost_multiple", "icu_share", "newborn_cost_multiple")
PCS_CODE = re.compile(r"[0-9A-Z]{7}")
BAND_SEPARATORS = re.compile(r"[\s,;，；]+")


@dataclass(frozen=True)
class Version:
    """One row of the history table: the version and what it changed against the one before."""

    policy: Policy
    changes: dict[str, dict[str, object]]


def default_region() -> Region:
    """A deployment serves one pooling area; the configuration screens work on the first region."""
    region = db.session.scalars(db.select(Region).order_by(Region.id).limit(1)).first()
    if region is None:
        raise NotFound(_l("No region is set up yet."))
    return region


def _dec(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value).strip())


def plain(value: Decimal) -> str:
    """A Decimal without trailing zeros or exponent: 0.0500 -> "0.05", 5.00 -> "5"."""
    return format(value.normalize(), "f")


def parse_bands(text: str) -> list[dict[str, str]]:
    """High-cost bands typed one per line as "max_weight multiple" (e.g. "1.0 5"), sorted by max_weight."""
    errors: list[str] = []
    bands: list[dict[str, str]] = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = [p for p in BAND_SEPARATORS.split(line) if p]
        if len(parts) != 2:
            errors.append(str(_l('Line %(n)s ("%(line)s"): write the DRG weight limit and the multiple, '
                                 'separated by a space, e.g. "1.0 5".', n=number, line=line)))
            continue
        try:
            max_weight, multiple = Decimal(parts[0]), Decimal(parts[1])
        except InvalidOperation:
            errors.append(str(_l('Line %(n)s ("%(line)s"): both figures must be numbers, e.g. "1.0 5".',
                                 n=number, line=line)))
            continue
        if not max_weight.is_finite() or not multiple.is_finite() or max_weight <= 0:
            errors.append(str(_l('Line %(n)s ("%(line)s"): the DRG weight limit must be more than 0.',
                                 n=number, line=line)))
            continue
        if multiple < 1 or multiple >= 10000 or multiple != multiple.quantize(Decimal("0.01")):
            errors.append(str(_l('Line %(n)s ("%(line)s"): the multiple must be at least 1, below 10000 and '
                                 'have at most 2 decimal places.', n=number, line=line)))
            continue
        if any(Decimal(b["max_weight"]) == max_weight for b in bands):
            errors.append(str(_l('Line %(n)s ("%(line)s"): another line already has the weight limit %(w)s.',
                                 n=number, line=line, w=plain(max_weight))))
            continue
        bands.append({"max_weight": plain(max_weight), "multiple": plain(multiple)})
    if errors:
        raise ValidationFailed({"high_cost_bands": errors})
    return sorted(bands, key=lambda band: Decimal(band["max_weight"]))


def format_bands(bands: list[dict[str, str]] | None) -> str:
    return "\n".join(f"{band['max_weight']} {band['multiple']}" for band in bands or [])


def parse_codes(text: str | list[str] | tuple[str, ...]) -> list[str]:
    """ICD-10-PCS codes of the new drug/technology list, one per line or separated by commas."""
    raw_codes = BAND_SEPARATORS.split(text) if isinstance(text, str) else list(text)
    codes: list[str] = []
    bad: list[str] = []
    for raw in raw_codes:
        if not raw or not raw.strip():
            continue
        code = normalise_code(raw)
        if not PCS_CODE.fullmatch(code):
            bad.append(raw.strip())
        elif code not in codes:
            codes.append(code)
    if bad:
        raise ValidationFailed({"new_technology_codes": [str(_l(
            "Not ICD-10-PCS codes (7 letters or digits, e.g. 02703DZ): %(codes)s", codes=", ".join(bad)))]})
    return codes


def _canonical(values: object, known: tuple[str, ...]) -> list[str] | None:
    """`values` in the canonical order of `known`, without repeats; None when it is not a list of known values.

    The order a form or a caller lists them in means nothing, so ["secondary", "tertiary"] and
    ["tertiary", "secondary"] must compare equal and not make a new version; on None the check names the field.
    """
    if isinstance(values, str) or not isinstance(values, (list, tuple, set, frozenset)):
        return None
    if any(value not in known for value in values):
        return None
    return [value for value in known if value in values]


def normalise_levels(levels: object) -> list[str] | None:
    """Hospital levels in the canonical order of HOSPITAL_LEVELS, without repeats (see _canonical)."""
    return _canonical(levels, HOSPITAL_LEVELS)


def normalise_edits(kinds: object) -> list[str] | None:
    """Blocking code-editor edits in the canonical order of EDIT_KINDS, without repeats (see _canonical)."""
    return _canonical(kinds, EDIT_KINDS)


def normalise_evidence(required: object) -> dict[str, list[str]] | None:
    """Evidence kinds per application category, every category present, kinds in the canonical order of
    EVIDENCE_KINDS; None when a category or a kind is unknown (see _canonical)."""
    if not isinstance(required, Mapping) or set(required) - set(CATEGORIES):
        return None
    canonical = {category: _canonical(required.get(category, []), EVIDENCE_KINDS) for category in CATEGORIES}
    return None if any(kinds is None for kinds in canonical.values()) else canonical  # type: ignore[return-value]


CHOSEN_LISTS: dict[str, Callable[[object], object]] = {
    "panel_hospital_levels": normalise_levels, "blocking_code_edits": normalise_edits,
    "required_evidence": normalise_evidence}
"""Policy fields that are a choice among known values."""


def _values(policy: Policy) -> dict[str, object]:
    """The policy's editable figures in canonical form, so that 0.0500 and 0.05 compare equal."""
    values: dict[str, object] = {}
    for name in EDITABLE:
        value = getattr(policy, name)
        if name in DECIMAL_FIELDS:
            value = _dec(value)
        elif name == "high_cost_bands":
            value = [{"max_weight": plain(_dec(b["max_weight"])), "multiple": plain(_dec(b["multiple"]))}
                     for b in value or []]
        elif name == "new_technology_codes":
            value = list(value or [])
        elif name == "required_evidence":
            value = normalise_evidence(value or {}) or dict(value or {})
        elif name in CHOSEN_LISTS:
            value = CHOSEN_LISTS[name](value or []) or list(value or [])
        values[name] = value
    return values


def _shown(value: object) -> object:
    """A figure as it is written into the register and shown in the history: JSON-safe, no trailing zeros."""
    if isinstance(value, Decimal):
        return plain(value)
    return value


def diff(old: Policy | None, new: Policy) -> dict[str, dict[str, object]]:
    new_values = _values(new)
    if old is None:
        return {}
    old_values = _values(old)
    return {name: {"from": _shown(old_values[name]), "to": _shown(new_values[name])}
            for name in EDITABLE if old_values[name] != new_values[name]}


def _check(values: dict[str, object]) -> dict[str, list[str]]:
    """Domain checks on the merged figures; returns field errors."""
    errors: dict[str, list[str]] = {}

    def fail(name: str, message: object) -> None:
        errors.setdefault(name, []).append(str(message))

    def integer(name: str, minimum: int, message: object) -> None:
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            fail(name, message)

    integer("base_rate_fen", 1, _l("The base rate must be more than 0 yuan."))
    integer("long_stay_days", 1, _l("Long stay must be at least 1 day."))
    integer("newborn_weight_grams", 1, _l("The newborn weight limit must be at least 1 gram."))
    integer("appeal_days", 1, _l("The appeal window must be at least 1 day."))
    integer("appeal_review_days", 1, _l("An appeal panel needs at least 1 working day."))
    integer("fixed_loss_threshold_fen", 0, _l("The fixed-loss threshold must be 0 yuan or more."))
    integer("min_reviewed_for_extrapolation", 1, _l("At least 1 reviewed record is needed for extrapolation."))
    integer("max_case_cost_fen", 1, _l("The highest cost of one case must be more than 0 yuan."))
    if isinstance(values["max_case_cost_fen"], int) and values["max_case_cost_fen"] > MAX_FEN:
        fail("max_case_cost_fen", _l("The highest cost of one case must be at most %(max)s yuan.",
                                     max=format_fen(MAX_FEN)))
    if normalise_edits(values["blocking_code_edits"]) is None:
        fail("blocking_code_edits", _l("Choose among the code-editor findings listed."))
    if normalise_evidence(values["required_evidence"]) is None:
        fail("required_evidence", _l("Choose among the application categories and evidence kinds listed."))
    panel = values["panel_size"]
    if isinstance(panel, bool) or not isinstance(panel, int) or panel < 3 or panel % 2 == 0:
        fail("panel_size", _l("The panel size must be an odd number of 3 or more."))
    if values["payment_method"] not in PAYMENT_METHODS:
        fail("payment_method", _l("Choose a payment method."))
    if values["panel_min_title"] not in TITLES:
        fail("panel_min_title", _l("Choose the lowest professional title admitted to panels."))
    levels = values["panel_hospital_levels"]
    if not isinstance(levels, list) or not levels or any(level not in HOSPITAL_LEVELS for level in levels):
        fail("panel_hospital_levels", _l("Admit experts of at least one hospital level."))
    if not isinstance(values["panel_one_per_hospital"], bool):
        fail("panel_one_per_hospital", _l("Say yes or no."))

    quota = values["quota_share"]
    if not isinstance(quota, Decimal) or not (0 < quota <= 1) or quota != quota.quantize(Decimal("0.0001")):
        fail("quota_share", _l("The quota share must be more than 0 and at most 100 percent, with at most "
                               "2 decimal places."))
    icu = values["icu_share"]
    if not isinstance(icu, Decimal) or not (0 < icu <= 1) or icu != icu.quantize(Decimal("0.01")):
        fail("icu_share", _l("The ICU share must be a whole number of percent, more than 0 and at most 100."))
    for name in ("high_cost_multiple", "newborn_cost_multiple"):
        multiple = values[name]
        if (not isinstance(multiple, Decimal) or not multiple.is_finite() or multiple < 1 or multiple >= 10000
                or multiple != multiple.quantize(Decimal("0.01"))):
            fail(name, _l("The multiple must be at least 1, below 10000 and have at most 2 decimal places."))
    return errors


def new_version(actor: Actor, region_id: int, changes: dict[str, object]) -> Policy:
    """Add a policy version with `changes` applied to the current one; `note` (why) is required.

    Decimal figures are fractions (quota_share 0.05 for 5%); money is in fen; `high_cost_bands` and
    `new_technology_codes` may be given as lists or as the text typed in the form.
    """
    if actor.role != Role.ADMIN:
        raise PermissionDenied(_l("Only an administrator may change the policy."))
    region = db.session.get(Region, region_id)
    if region is None:
        raise NotFound(_l("No such region."))
    current = region.current_policy()
    changes = dict(changes)
    note = str(changes.pop("note", "") or "").strip()
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValidationFailed({"__all__": [str(_l("Unknown policy fields: %(names)s", names=", ".join(unknown)))]})

    errors: dict[str, list[str]] = {}
    values = _values(current)
    for name, value in changes.items():
        try:
            if name == "high_cost_bands":
                bands = parse_bands(value) if isinstance(value, str) else parse_bands(format_bands(value))  # type: ignore[arg-type]
                values[name] = bands
            elif name == "new_technology_codes":
                values[name] = parse_codes(value)  # type: ignore[arg-type]
            elif name in DECIMAL_FIELDS:
                values[name] = _dec(value)
            elif name in CHOSEN_LISTS:
                normalised = CHOSEN_LISTS[name](value)
                values[name] = value if normalised is None else normalised  # a bad value is named by _check
            else:
                values[name] = value
        except ValidationFailed as failure:
            for key, messages in failure.errors.items():
                errors.setdefault(key, []).extend(messages)
        except (InvalidOperation, ValueError, TypeError):
            errors.setdefault(name, []).append(str(_l("Not a number.")))
    for name, messages in _check(values).items():
        if name not in errors:
            errors[name] = messages
    if not note:
        errors.setdefault("note", []).append(str(_l("Say why the policy changes; the note is kept with the version.")))
    if errors:
        raise ValidationFailed(errors)

    policy = Policy(region_id=region.id, version=current.version + 1, note=note, created_by_id=actor.user_id,
                    **values)
    changed = diff(current, policy)
    if not changed:
        raise ValidationFailed({"__all__": [str(_l("Nothing changed: the figures are those of version %(v)s.",
                                                   v=current.version))]})
    db.session.add(policy)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ServiceError(_l("Someone else saved a policy version at the same time; reload and try again."))
    activity.record(actor, "policy.versioned", "policy", policy.id, None, {
        "region_id": region.id, "version": policy.version, "previous_version": current.version,
        "note": note, "changes": changed}, region_id=region.id)
    db.session.commit()
    return policy


def history(region_id: int) -> list[Version]:
    """Every version, newest first, each with its changes against the one before."""
    policies = list(db.session.scalars(db.select(Policy).where(Policy.region_id == region_id)
                                       .order_by(Policy.version)))
    rows = [Version(policy, diff(previous, policy))
            for previous, policy in zip([None, *policies[:-1]], policies)]
    return rows[::-1]
