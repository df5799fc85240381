"""Case files: upload, preview, run in the background with progress, cancel, and the error report."""
from __future__ import annotations

from flask import Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from review.auth import current_actor, roles_required
from review.documents import clean_filename
from review.extensions import db
from review.forms import attach_errors
from review.hospital.forms import BulkApplyForm, ImportStartForm, ImportUploadForm
from review.hospital.routes import HOSPITAL, bp
from review.intake.reports import errors_csv, errors_xlsx
from review.intake.template import template_workbook
from review.messages import column_label, problem_text, row_error_text, stored_problem_text
from review.models import Case, ImportJob, ReviewItem
from review.pagination import paginate
from review.redaction import identity_warnings
from review.services import applications, intake
from review.services.context import ValidationFailed
from workflows.intake import COLUMNS

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.route("/imports", methods=["GET", "POST"])
@roles_required(HOSPITAL)
def imports() -> object:
    actor = current_actor()
    form = ImportUploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            job = intake.upload(actor, upload.stream, clean_filename(upload.filename or ""))
        except ValidationFailed as failure:
            for message in attach_errors(form, failure):
                flash(message, "error")
        else:
            return redirect(url_for("hospital.import_job", job_id=job.id))
    jobs = paginate(db.select(ImportJob).where(ImportJob.hospital_id == actor.hospital_id)
                    .order_by(ImportJob.id.desc()))
    return render_template("hospital/imports.html", form=form, page=jobs, columns=COLUMNS), \
        (422 if form.errors else 200)


@bp.route("/imports/template.xlsx")
@roles_required(HOSPITAL)
def import_template() -> Response:
    return Response(template_workbook(), mimetype=XLSX,
                    headers={"Content-Disposition": "attachment; filename=case-import-template.xlsx"})


@bp.route("/imports/<int:job_id>")
@roles_required(HOSPITAL)
def import_job(job_id: int) -> object:
    """The job's problems are stored as codes; they are worded here, in the reader's language."""
    job = intake.get_job(current_actor(), job_id)
    preview = [(number, values, [(column_label(e.column), problem_text(e.problem)) for e in problems])
               for number, values, problems in (intake.preview(job) if job.status == "uploaded" else [])]
    errors = [{"row": e["row"], "column": column_label(e["column"]), "text": row_error_text(e), "value": e["value"]}
              for e in job.errors[:200]]
    return render_template("hospital/import_job.html", job=job, preview=preview, columns=COLUMNS,
                           column_label=column_label, form=ImportStartForm(), errors=errors,
                           message=stored_problem_text(job.message or ""))


@bp.route("/imports/<int:job_id>/status.json")
@roles_required(HOSPITAL)
def import_status(job_id: int) -> object:
    job = intake.get_job(current_actor(), job_id)
    return jsonify(status=job.status, total=job.total_rows, processed=job.processed_rows, accepted=job.accepted,
                   rejected=job.rejected, skipped=job.skipped, finished=job.finished)


@bp.route("/imports/<int:job_id>/start", methods=["POST"])
@roles_required(HOSPITAL)
def import_start(job_id: int) -> object:
    form = ImportStartForm()
    if form.validate_on_submit():
        intake.start(current_actor(), job_id, form.mode.data or "")
        flash(_("The import has started; you can leave this page and come back."), "success")
    return redirect(url_for("hospital.import_job", job_id=job_id))


@bp.route("/imports/<int:job_id>/cancel", methods=["POST"])
@roles_required(HOSPITAL)
def import_cancel(job_id: int) -> object:
    if ImportStartForm().validate_on_submit():
        intake.cancel(current_actor(), job_id)
        flash(_("Cancellation requested: the import stops before it writes anything."), "warning")
    return redirect(url_for("hospital.import_job", job_id=job_id))


@bp.route("/imports/<int:job_id>/errors.<fmt>")
@roles_required(HOSPITAL)
def import_errors(job_id: int, fmt: str) -> Response:
    job = intake.get_job(current_actor(), job_id)
    name = f"import-{job.id}-errors"
    if fmt == "xlsx":
        return Response(errors_xlsx(intake.iter_errors(job)), mimetype=XLSX,
                        headers={"Content-Disposition": f"attachment; filename={name}.xlsx"})
    return Response(errors_csv(intake.iter_errors(job)), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}.csv"})


@bp.route("/cases/apply", methods=["GET", "POST"])
@roles_required(HOSPITAL)
def bulk_apply() -> object:
    """Select recorded cases without an application and apply for them with one category and reason."""
    actor = current_actor()
    without_application = (db.select(Case).where(Case.hospital_id == actor.hospital_id, ~Case.id.in_(
        db.select(ReviewItem.case_id).where(ReviewItem.hospital_id == actor.hospital_id))).order_by(Case.id.desc()))
    page = paginate(without_application)
    form = BulkApplyForm()
    form.case_ids.choices = [(case.id, case.case_no) for case in page.items]
    if request.method == "POST":
        form.case_ids.choices = [(case.id, case.case_no) for case in db.session.scalars(without_application)]
    if form.validate_on_submit():
        created, refused = applications.apply_selected(actor, form.case_ids.data or [], form.category.data or "",
                                                       form.reason.data or "")
        flash(_("%(n)s applications submitted.", n=created), "success")
        for message in identity_warnings("reason", form.reason.data, None):
            flash(message, "warning")
        for case_no, message in refused:
            flash(_("Case %(no)s: %(why)s", no=case_no, why=message), "error")
        return redirect(url_for("hospital.index"))
    return render_template("hospital/bulk_apply.html", form=form, page=page, quotas=applications.open_quotas(actor))
