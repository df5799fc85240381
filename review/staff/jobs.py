"""Background jobs for the office: the ones the runner gave up on, with a retry, and what is waiting or running."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from review.auth import current_actor, roles_required
from review.models.jobs import JOB_STATES
from review.pagination import paginate
from review.services import jobs
from review.staff.forms import ConfirmForm
from review.staff.routes import OFFICE, READERS, bp


@bp.route("/jobs", endpoint="jobs")
@roles_required(*READERS)
def jobs_page() -> object:
    """Failed jobs first: they are the ones someone has to act on."""
    actor = current_actor()
    state = request.args.get("state", "failed")
    if state not in JOB_STATES:
        state = "failed"
    return render_template("staff/jobs.html", state=state, page=paginate(jobs.listing(actor, state)),
                           counts=jobs.counts(actor), kinds=jobs.KINDS, form=ConfirmForm())


@bp.route("/jobs/<int:job_id>/retry", methods=["POST"])
@roles_required(*OFFICE)
def retry_job(job_id: int) -> object:
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
    else:
        job = jobs.retry(current_actor(), job_id)
        flash(_("Job #%(id)s is queued again.", id=job.id), "success")
    return redirect(url_for("staff.jobs"))
