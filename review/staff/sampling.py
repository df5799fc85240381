"""Record sampling screens: create a plan, inspect and verify it, and read the extrapolation report."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

from flask import Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from review.auth import current_actor, roles_required
from review.extensions import db
from review.forms import attach_errors
from review.models import Cycle, Hospital, ReviewItem, SamplingPlan
from review.pagination import paginate
from review.services import sampling
from review.services.context import ValidationFailed
from review.messages import problem_text
from review.staff.forms import ConfirmForm, SamplingForm
from review.staff.routes import READERS, bp
from workflows.extrapolation import InsufficientSample, Report
from workflows.sampling import PlanConfig, SamplingRefused

HUNDRED = Decimal(100)


@bp.route("/cycles/<int:cycle_id>/sampling", methods=["GET", "POST"])
@roles_required(*READERS)
def sampling_plans(cycle_id: int) -> object:
    cycle = db.get_or_404(Cycle, cycle_id)
    form = SamplingForm()
    if form.validate_on_submit():
        try:
            config = PlanConfig(share=form.share.data / HUNDRED, stratify_by_hospital=bool(form.stratify_by_hospital.data),
                                min_per_hospital=form.min_per_hospital.data if form.stratify_by_hospital.data else 0,
                                top_cost_ratio=form.top_cost_ratio.data or 0,
                                mismatch_share=form.mismatch_share.data / HUNDRED,
                                single_mcc_share=form.single_mcc_share.data / HUNDRED,
                                short_stay_share=form.short_stay_share.data / HUNDRED)
            plan = sampling.create_plan(current_actor(), cycle.id, config, form.published_value.data or "")
        except SamplingRefused as error:
            flash(problem_text(error.problem), "error")
        except ValidationFailed as failure:
            for message in attach_errors(form, failure):
                flash(message, "error")
        else:
            drawn = sum(stratum["sample_size"] for stratum in plan.strata)
            flash(_("%(n)s records drawn; the hospitals have been notified.", n=drawn), "success")
            return redirect(url_for("staff.sampling_plan", plan_id=plan.id))
    plans = db.session.scalars(db.select(SamplingPlan).where(SamplingPlan.cycle_id == cycle.id)
                               .order_by(SamplingPlan.id.desc())).all()
    return render_template("staff/sampling.html", cycle=cycle, form=form, plans=plans)


@bp.route("/sampling/<int:plan_id>", methods=["GET", "POST"])
@roles_required(*READERS)
def sampling_plan(plan_id: int) -> object:
    plan = db.get_or_404(SamplingPlan, plan_id)
    form = ConfirmForm()
    verification = sampling.verify_plan(plan.id) if form.validate_on_submit() else None
    items = paginate(db.select(ReviewItem).where(ReviewItem.sampling_plan_id == plan.id).order_by(ReviewItem.id))
    try:
        report, refusal = sampling.extrapolation(current_actor(), plan.id), None
    except InsufficientSample as error:
        report, refusal = None, problem_text(error.problem)
    hospitals = dict(db.session.execute(db.select(Hospital.id, Hospital.code)).all())
    return render_template("staff/sampling_plan.html", plan=plan, cycle=sampling.plan_cycle(plan), page=items,
                           form=form, verification=verification, report=report, refusal=refusal, hospitals=hospitals)


@bp.route("/sampling/<int:plan_id>/extrapolation.csv")
@roles_required(*READERS)
def extrapolation_export(plan_id: int) -> Response:
    """The report with every input figure, for the bureau's files; refused like the page when too few."""
    plan = db.get_or_404(SamplingPlan, plan_id)
    try:
        report = sampling.extrapolation(current_actor(), plan.id)
    except InsufficientSample as error:
        flash(problem_text(error.problem), "error")
        return redirect(url_for("staff.sampling_plan", plan_id=plan.id))  # type: ignore[return-value]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(_report_rows(report))
    return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=extrapolation-plan-{plan.id}.csv"})



def _report_rows(report: Report) -> list[list[object]]:
    """Summary, per-stratum results, then every reviewed record: the inputs travel with the result."""
    rows: list[list[object]] = [["section", "stratum", "figure", "value"],
                                ["summary", "", "method", report.inputs()["method"]],
                                ["summary", "", "confidence", report.confidence],
                                ["summary", "", "reviewed", report.reviewed],
                                ["summary", "", "error_ratio", report.error_ratio],
                                ["summary", "", "estimated_overpaid_fen", report.estimated_overpaid_fen],
                                ["summary", "", "standard_error_fen", report.standard_error_fen],
                                ["summary", "", "degrees_of_freedom", report.degrees_of_freedom],
                                ["summary", "", "t_value", report.t_value],
                                ["summary", "", "lower_bound_fen", report.lower_bound_fen]]
    for result in report.strata:
        rows += [["stratum", result.name, "reviewed", result.n], ["stratum", result.name, "population", result.N],
                 ["stratum", result.name, "error_ratio", result.error_ratio],
                 ["stratum", result.name, "estimated_overpaid_fen", result.estimated_overpaid_fen]]
    for stratum in report.stratum_inputs:
        rows.append(["input", stratum.name, "population_paid_fen", stratum.population_paid_fen])
        rows += [["record", stratum.name, "paid_fen / overpaid_fen", f"{r.paid_fen} / {r.overpaid_fen}"]
                 for r in stratum.reviewed]
    return rows
