"""The review office's configuration screens: policy versions, cycle calendar, DRG discharges, average costs.

Routes are added to the `staff` blueprint; routes.py imports this module at its end.
"""
from __future__ import annotations

from decimal import Decimal

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from review.auth import current_actor, roles_required
from review.extensions import db
from review.forms import attach_errors
from review.labels import CATEGORY, DOC_TYPE, HOSPITAL_LEVEL, TITLE
from review.models import DrgAverageCost, User
from review.pagination import paginate
from review.services import average_costs, cycles, policies
from review.services.context import ValidationFailed
from review.staff.config_forms import (EDIT_KIND, AverageCostUploadForm, ComputeForm, CycleForm, PolicyForm,
                                       VolumeOverrideForm, VolumeRecountForm)
from review.staff.routes import OFFICE, READERS, bp
from workflows.money import format_fen

ADMIN = ("admin",)

CYCLE_STATUS = {"planned": _l("Planned"), "open": _l("Open"), "closed": _l("Closed")}
OPEN_WINDOW = {
    "application": _l("Application window open"),
    "record_upload": _l("Record upload under way"),
    "review": _l("Review under way"),
    "settlement": _l("Awaiting settlement"),
}
POLICY_FIELDS = {
    "base_rate_fen": _l("Base rate"),
    "quota_share": _l("Application quota"),
    "high_cost_multiple": _l("High-cost multiple"),
    "high_cost_bands": _l("High-cost bands"),
    "long_stay_days": _l("Long stay (days)"),
    "icu_share": _l("ICU share"),
    "newborn_weight_grams": _l("Newborn weight (g)"),
    "newborn_cost_multiple": _l("Newborn cost multiple"),
    "new_technology_codes": _l("New drugs and technologies"),
    "panel_size": _l("Panel size"),
    "appeal_days": _l("Appeal days"),
    "appeal_review_days": _l("Appeal panel's working days"),
    "payment_method": _l("Payment method"),
    "fixed_loss_threshold_fen": _l("Fixed-loss threshold"),
    "min_reviewed_for_extrapolation": _l("Minimum reviewed records"),
    "panel_min_title": _l("Lowest title on panels"),
    "panel_hospital_levels": _l("Hospital levels on panels"),
    "panel_one_per_hospital": _l("One expert per hospital on an item"),
    "max_case_cost_fen": _l("Highest cost of one case"),
    "blocking_code_edits": _l("Code-editor findings that refuse a case"),
    "required_evidence": _l("Evidence required before screening"),
}
PAYMENT_METHOD_SHORT = {"fee_for_service": _l("Fee for service"), "cms_outlier": _l("CMS outlier")}
SOURCE = {"imported": _l("Imported"), "computed": _l("Computed from cases")}
SKIP_REASON = {"too_few": _l("Too few cases"), "unknown": _l("Not in the DRG catalogue")}


def _flash_unplaced(form: object, failure: ValidationFailed) -> None:
    for message in attach_errors(form, failure):  # type: ignore[arg-type]
        flash(message, "error")


# --- policy ------------------------------------------------------------------------------------------------

def _shown(name: str, value: object) -> str:
    """A policy figure as the history table shows it: yuan for money, percent for shares, coded values by
    their translated names (the register keeps the codes)."""
    if name == "panel_one_per_hospital":
        return str(_("Yes") if value else _("No"))
    if value is None or value == []:
        return "—"
    if name == "panel_min_title":
        return str(TITLE.get(str(value), value))
    if name == "panel_hospital_levels":
        return ", ".join(str(HOSPITAL_LEVEL.get(level, level)) for level in value)  # type: ignore[attr-defined]
    if name == "blocking_code_edits":
        return "; ".join(str(EDIT_KIND.get(kind, kind)) for kind in value)  # type: ignore[attr-defined]
    if name == "required_evidence":
        return "; ".join(f"{CATEGORY.get(category, category)}: " + (", ".join(
            str(DOC_TYPE.get(kind, kind)) for kind in kinds) or "—")
            for category, kinds in value.items())  # type: ignore[attr-defined]
    if name.endswith("_fen"):
        return "¥ " + format_fen(int(value))  # type: ignore[call-overload]
    if name in ("quota_share", "icu_share"):
        return policies.plain(Decimal(str(value)) * 100) + " %"
    if name == "high_cost_bands":
        return "; ".join(f"≤ {band['max_weight']}: {band['multiple']} ×" for band in value)  # type: ignore[attr-defined]
    if name == "new_technology_codes":
        return ", ".join(value)  # type: ignore[arg-type]
    if name == "payment_method":
        return str(PAYMENT_METHOD_SHORT.get(str(value), value))
    return str(value)


def _policy_page(form: PolicyForm, status: int = 200) -> tuple[str, int]:
    region = policies.default_region()
    versions = policies.history(region.id)
    creator_ids = {v.policy.created_by_id for v in versions if v.policy.created_by_id}
    creators = dict(db.session.execute(db.select(User.id, User.display_name).where(User.id.in_(creator_ids))).all())
    history = [{"version": v.policy.version, "created_at": v.policy.created_at, "note": v.policy.note,
                "created_by": creators.get(v.policy.created_by_id),
                "changes": [(POLICY_FIELDS.get(name, name), _shown(name, change["from"]), _shown(name, change["to"]))
                            for name, change in v.changes.items()]} for v in versions]
    policy = region.current_policy()
    return render_template("staff/policy.html", region=region, policy=policy, form=form, history=history,
                           payment_label=_shown("payment_method", policy.payment_method),
                           levels_label=_shown("panel_hospital_levels", policy.panel_hospital_levels),
                           blocking_label=_shown("blocking_code_edits", policy.blocking_code_edits)), status


@bp.route("/policy")
@roles_required(*READERS)
def policy() -> object:
    form = PolicyForm(formdata=None)
    form.fill(policies.default_region().current_policy())
    return _policy_page(form)


@bp.route("/policy", methods=["POST"])
@roles_required(*ADMIN)
def save_policy() -> object:
    form = PolicyForm()
    if form.validate_on_submit():
        try:
            created = policies.new_version(current_actor(), policies.default_region().id, form.changes())
        except ValidationFailed as failure:
            _flash_unplaced(form, failure)
        else:
            flash(_("Policy version %(v)s saved. Cycles created from now on use it; existing cycles keep "
                    "their snapshot.", v=created.version), "success")
            return redirect(url_for("staff.policy"))
    return _policy_page(form, 422)


# --- cycles ------------------------------------------------------------------------------------------------

@bp.route("/cycles", endpoint="cycles")  # the function is named apart so it does not shadow the service module
@roles_required(*READERS)
def cycles_calendar() -> object:
    region = policies.default_region()
    today = cycles.region_today(region)
    return render_template("staff/cycles.html", rows=cycles.calendar(region.id, today), today=today,
                           statuses=CYCLE_STATUS, windows=OPEN_WINDOW)


@bp.route("/cycles/new", methods=["GET", "POST"])
@roles_required(*OFFICE)
def new_cycle() -> object:
    region = policies.default_region()
    form = CycleForm()
    if request.method == "GET":
        form.code.data = request.args.get("code") or cycles.suggest_code(region.id, cycles.region_today(region))
    code = (form.code.data or "").strip().upper()
    defaults = None
    try:
        defaults = cycles.default_dates(code, region.id)
    except ValidationFailed as failure:
        if request.method == "GET":  # e.g. no working-day calendar yet for the year the window falls in
            attach_errors(form, failure)
    if request.method == "GET" and defaults is not None:
        for name in cycles.DATE_FIELDS:
            getattr(form, name).data = getattr(defaults, name)
    if form.validate_on_submit():
        dates = {name: getattr(form, name).data for name in cycles.DATE_FIELDS}  # empty: the service's default
        try:
            cycle = cycles.create_cycle(current_actor(), region.id, code, **dates)
        except ValidationFailed as failure:
            _flash_unplaced(form, failure)
        else:
            flash(_("Cycle %(code)s created with policy version %(v)s.", code=cycle.code,
                    v=cycle.policy.version), "success")
            return redirect(url_for("staff.cycles"))
    status = 422 if form.errors and request.method == "POST" else 200  # a GET's error only warns
    return render_template("staff/cycle_form.html", form=form, defaults=defaults,
                           working_days=cycles.WINDOW_WORKING_DAYS), status


@bp.route("/cycles/<int:cycle_id>/volumes", methods=["GET", "POST"])
@roles_required(*OFFICE)
def cycle_volumes(cycle_id: int) -> object:
    """The quota base of each hospital with where it came from; a POST overrides one hospital's figure."""
    cycle = cycles.get_cycle(cycle_id)
    form = VolumeOverrideForm()
    if form.validate_on_submit():
        try:
            cycles.override_volume(current_actor(), cycle.id, form.hospital_id.data, form.figure.data,
                                   form.reason.data)
        except ValidationFailed as failure:
            _flash_unplaced(form, failure)
        else:
            flash(_("The figure is overridden."), "success")
            return redirect(url_for("staff.cycle_volumes", cycle_id=cycle.id))
    status = 422 if form.errors and request.method == "POST" else 200
    return render_template("staff/cycle_volumes.html", cycle=cycle, form=form, recount=VolumeRecountForm(),
                           rows=cycles.volumes(cycle), counts=cycles.imported_counts(cycle),
                           failed_hospital=form.hospital_id.data if status == 422 else None), status


@bp.route("/cycles/<int:cycle_id>/volumes/recount", methods=["POST"])
@roles_required(*OFFICE)
def cycle_volumes_recount(cycle_id: int) -> object:
    form = VolumeRecountForm()
    if form.validate_on_submit():
        changes = cycles.recount_volumes(current_actor(), cycle_id, bool(form.replace_overrides.data))
        flash(_("Counted from the imported cases: %(n)s hospitals' figures changed.", n=len(changes)), "success")
    return redirect(url_for("staff.cycle_volumes", cycle_id=cycle_id))


# --- DRG average costs -------------------------------------------------------------------------------------

def _average_costs_page(upload: AverageCostUploadForm, compute: ComputeForm, result: object = None,
                        status: int = 200) -> tuple[str, int]:
    region = policies.default_region()
    drg = average_costs.normalise_drg(request.args.get("drg", ""))
    query = db.select(DrgAverageCost).where(DrgAverageCost.region_id == region.id).order_by(DrgAverageCost.drg)
    if drg:
        query = query.where(DrgAverageCost.drg.startswith(drg))
    page = paginate(query)
    titles = average_costs.catalogue_titles([row.drg for row in page.items])
    return render_template("staff/average_costs.html", page=page, titles=titles, drg=drg, upload=upload,
                           compute=compute, result=result, reasons=SKIP_REASON, sources=SOURCE,
                           scheme=average_costs.current_scheme()), status


def _compute_form(formdata: object = None) -> ComputeForm:
    form = ComputeForm(formdata=formdata)
    if formdata is None:
        start, end = average_costs.default_range(cycles.region_today(policies.default_region()))
        form.start.data, form.end.data = start, end
    return form


@bp.route("/average-costs", endpoint="average_costs")
@roles_required(*READERS)
def average_costs_list() -> object:
    return _average_costs_page(AverageCostUploadForm(formdata=None), _compute_form())


@bp.route("/average-costs/import", methods=["POST"])
@roles_required(*ADMIN)
def import_average_costs() -> object:
    form = AverageCostUploadForm()
    if form.validate_on_submit():
        try:
            result = average_costs.import_csv(current_actor(), policies.default_region().id, form.file.data.stream)
        except ValidationFailed as failure:
            _flash_unplaced(form, failure)
        else:
            flash(_("%(n)s DRG average costs imported (%(new)s new, %(updated)s replaced).", n=result.written,
                    new=result.created, updated=result.updated), "success")
            return redirect(url_for("staff.average_costs"))
    return _average_costs_page(form, _compute_form(), status=422)


@bp.route("/average-costs/compute", methods=["POST"])
@roles_required(*ADMIN)
def compute_average_costs() -> object:
    form = _compute_form(request.form)
    result = None
    if form.validate_on_submit():
        try:
            result = average_costs.compute_from_cases(current_actor(), policies.default_region().id,
                                                      form.start.data, form.end.data, form.min_cases.data)
        except ValidationFailed as failure:
            _flash_unplaced(form, failure)
        else:
            flash(_("%(n)s DRG average costs computed from cases (%(new)s new, %(updated)s replaced); "
                    "%(skipped)s DRGs kept their figure.", n=result.written, new=result.created,
                    updated=result.updated, skipped=len(result.skipped)), "success")
            return _average_costs_page(AverageCostUploadForm(formdata=None), form, result)
    return _average_costs_page(AverageCostUploadForm(formdata=None), form, status=422)

