"""Administration screens: contracted hospitals and user accounts.

Routes are added to the `staff` blueprint; routes.py imports this module at its end. Administrators change;
the review office and auditors read the hospital list (they filter every other list by hospital), and auditors
read the accounts (who may do what is part of what they supervise). A one-time link is shown once, on the page
that answers the action that made it, and never stored in a flash message or the session.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import or_
from wtforms.fields.choices import SelectChoice

from review.auth import current_actor, invitation_link, roles_required
from review.extensions import db
from review.forms import attach_errors
from review.intake.reports import neutralise
from review.models import ActivityLog, Expert, Hospital, User
from review.models.people import ROLES
from review.pagination import paginate
from review.services import hospitals as hospital_register
from review.services import table_import, users
from review.services.context import NotFound, ValidationFailed
from review.staff import table_upload
from review.staff.admin_forms import BindingForm, HospitalForm, UserForm
from review.staff.pool_forms import ActionForm, ImportForm
from review.staff.routes import READERS, bp
from review.web import record_id

ADMIN = ("admin",)
ACCOUNT_READERS = ("admin", "auditor")
YES_NO = ("yes", "no")
MAX_SHOWN_ROWS = 200

FIELD = {
    "code": _l("Code"), "name_en": _l("Name in English"), "name_zh": _l("Name in Chinese"), "level": _l("Level"),
    "coefficient": _l("Coefficient"), "active": _l("Active"), "display_name": _l("Display name"),
    "role": _l("Role"), "hospital_id": _l("Hospital"), "hospital_admin": _l("Hospital administrator"),
    "expert_id": _l("Expert profile"), "username": _l("User name"),
}

ACTION = {
    "hospital.created": _l("Hospital added"),
    "hospital.updated": _l("Hospital changed"),
    "hospital.imported": _l("Changed by a file import"),
    "user.created": _l("Account created"),
    "user.updated": _l("Role or binding changed"),
    "user.disabled": _l("Account disabled"),
    "user.enabled": _l("Account enabled"),
    "user.invited": _l("One-time link issued"),
    "user.password_reset": _l("Password reset"),
    "user.invitation_accepted": _l("Password set through the link"),
    "user.password_changed": _l("Password changed by the user"),
    "user.login": _l("Logged in"),
}


def _flash_unplaced(form: object, failure: ValidationFailed) -> None:
    for message in attach_errors(form, failure):  # type: ignore[arg-type]
        flash(message, "error")


def _log(object_type: str, object_id: int) -> tuple[list[ActivityLog], dict[int, str]]:
    rows = list(db.session.scalars(db.select(ActivityLog).where(
        ActivityLog.object_type == object_type, ActivityLog.object_id == object_id)
        .order_by(ActivityLog.id.desc()).limit(20)))
    actor_ids = {row.actor_id for row in rows if row.actor_id}
    actors = dict(db.session.execute(db.select(User.id, User.display_name).where(User.id.in_(actor_ids))).all())
    return rows, actors


def _hospital_name(hospital: Hospital) -> str:
    return hospital.name_zh if str(get_locale()).startswith("zh") else hospital.name_en


# --- one-time links ------------------------------------------------------------------------------------------

def invitations_page(issued: Iterable[users.Issued]) -> tuple[str, int, dict[str, str]]:
    """The answer to every action that made links: each shown once, with a CSV of them for the administrator."""
    rows = [{"issued": one, "link": invitation_link(one.token)} for one in issued]
    return render_template("staff/users_invited.html", rows=rows), 200, {"Cache-Control": "no-store"}


@bp.route("/users/invitations.csv", methods=["POST"])
@roles_required(*ADMIN)
def invitations_csv() -> Response:
    """The links of the page just shown, as a file: the browser sends the tokens back, and only those that still
    open an invitation are written (cells neutralised against spreadsheet formulas)."""
    if not ActionForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("staff.users"))  # type: ignore[return-value]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("User name"), _("Display name"), _("Link"), _("Valid until (UTC)")])
    for invitation, token in users.open_invitations(current_actor(), request.form.getlist("token")):
        writer.writerow([neutralise(invitation.user.username), neutralise(invitation.user.display_name),
                         neutralise(invitation_link(token)), invitation.expires_at.strftime("%Y-%m-%d %H:%M")])
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="invitations.csv"',
                             "Cache-Control": "no-store"})


# --- hospitals -----------------------------------------------------------------------------------------------

@bp.route("/hospitals")
@roles_required(*READERS)
def hospitals() -> object:
    level = request.args.get("level", "")
    active = request.args.get("active", "")
    search = request.args.get("q", "").strip()[:60]
    query = db.select(Hospital).order_by(Hospital.code)
    if level in hospital_register.LEVELS:
        query = query.where(Hospital.level == level)
    if active in YES_NO:
        query = query.where(Hospital.active.is_(active == "yes"))
    if search:
        pattern = f"%{search}%"
        query = query.where(or_(Hospital.code.ilike(pattern), Hospital.name_en.ilike(pattern),
                                Hospital.name_zh.like(pattern)))
    page = paginate(query)
    ids = [h.id for h in page.items]
    user_counts = dict(db.session.execute(db.select(User.hospital_id, db.func.count()).where(
        User.hospital_id.in_(ids), User.active.is_(True)).group_by(User.hospital_id)).all()) if ids else {}
    return render_template("staff/hospitals.html", page=page, user_counts=user_counts, levels=hospital_register.LEVELS,
                           filters={"level": level, "active": active, "q": search},
                           can_edit=current_user.role in ADMIN)


def _hospital_input(form: HospitalForm) -> hospital_register.HospitalInput:
    return hospital_register.HospitalInput(
        code=(form.code.data or "").strip(), name_en=form.name_en.data or "", name_zh=form.name_zh.data or "",
        level=form.level.data or "", coefficient=(form.coefficient.data or "").strip(), active=bool(form.active.data))


def _hospital_form(form: HospitalForm, found: Hospital | None) -> object:
    if form.validate_on_submit():
        try:
            saved = hospital_register.save(current_actor(), found.id if found else None, _hospital_input(form))
        except ValidationFailed as failure:
            _flash_unplaced(form, failure)
        else:
            flash(_("Hospital %(code)s saved.", code=saved.code), "success")
            return redirect(url_for("staff.hospitals"))
    log, actors = _log("hospital", found.id) if found else ([], {})
    return render_template("staff/hospitals_form.html", form=form, hospital=found, log=log, actors=actors,
                           actions=ACTION, fields=FIELD), (422 if form.errors else 200)


@bp.route("/hospitals/new", methods=["GET", "POST"])
@roles_required(*ADMIN)
def new_hospital() -> object:
    return _hospital_form(HospitalForm(), None)


@bp.route("/hospitals/<int:hospital_id>/edit", methods=["GET", "POST"])
@roles_required(*ADMIN)
def edit_hospital(hospital_id: int) -> object:
    found = db.session.get(Hospital, hospital_id)
    if found is None:
        raise NotFound(_l("No such hospital."))
    form = HospitalForm()
    if request.method == "GET":
        form.code.data, form.name_en.data, form.name_zh.data = found.code, found.name_en, found.name_zh
        form.level.data, form.coefficient.data, form.active.data = found.level, str(found.coefficient), found.active
    return _hospital_form(form, found)


def _hospital_import_page(form: ImportForm, plan: table_import.Plan | None = None,
                          outcome: table_import.Outcome | None = None, token: str | None = None,
                          file_name: str | None = None, status: int = 200) -> tuple[str, int]:
    errors = list((plan or outcome).errors) if (plan or outcome) else []
    return render_template("staff/hospitals_import.html", form=form, errors=errors[:MAX_SHOWN_ROWS],
                           hidden_errors=max(0, len(errors) - MAX_SHOWN_ROWS), fields=FIELD,
                           aliases=hospital_register.COLUMNS, required=hospital_register.REQUIRED,
                           max_rows=hospital_register.MAX_IMPORT_ROWS, plan=None if errors else plan, token=token,
                           file_name=file_name, shown=MAX_SHOWN_ROWS), status


def _hospitals_imported(outcome: table_import.Outcome) -> object:
    flash(_("Import done: %(created)s hospitals added and %(updated)s updated.", created=outcome.created,
            updated=outcome.updated), "success")
    return redirect(url_for("staff.hospitals"))


HOSPITAL_IMPORT = table_upload.ImportScreen(
    kind="hospital", preview=hospital_register.preview, page=_hospital_import_page, done=_hospitals_imported,
    commit=lambda actor, path, name: hospital_register.import_file(actor, path, file_name=name))


@bp.route("/hospitals/import", methods=["GET", "POST"])
@roles_required(*ADMIN)
def import_hospitals() -> object:
    return table_upload.upload(HOSPITAL_IMPORT, ImportForm())


@bp.route("/hospitals/import/confirm", methods=["POST"])
@roles_required(*ADMIN)
def confirm_hospital_import() -> object:
    return table_upload.confirm(HOSPITAL_IMPORT, ImportForm(formdata=None))


@bp.route("/hospitals/template.csv")
@roles_required(*ADMIN)
def hospital_template() -> Response:
    # A byte-order mark, or Excel opens the UTF-8 example's Chinese name as mojibake; the import reads it back.
    return Response("\ufeff" + hospital_register.template_csv(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="hospitals_template.csv"'})


# --- users ---------------------------------------------------------------------------------------------------

def _hospital_choices(current: int | None = None) -> list[SelectChoice]:
    """Active hospitals (an inactive one cannot be chosen), plus the user's own if it was deactivated since."""
    found = db.session.scalars(db.select(Hospital).where(or_(Hospital.active.is_(True), Hospital.id == current))
                               .order_by(Hospital.code))
    return [SelectChoice("", _("No hospital"))] + [
        SelectChoice(h.id, f"{h.code} — {_hospital_name(h)}") for h in found]  # type: ignore[arg-type]


def _expert_choices(user_id: int | None = None) -> list[SelectChoice]:
    """Experts without a login, plus the one this user is bound to."""
    with_login = db.select(User.expert_id).where(User.expert_id.is_not(None), User.id != (user_id or 0))
    found = db.session.scalars(db.select(Expert).where(Expert.id.not_in(with_login)).order_by(Expert.code))
    zh = str(get_locale()).startswith("zh")
    return [SelectChoice("", _("No expert profile"))] + [
        SelectChoice(e.id, f"{e.code} — {e.name_zh if zh else e.name_en}") for e in found]  # type: ignore[arg-type]


def _binding_form(form: BindingForm, user: User | None = None) -> BindingForm:
    form.hospital_id.choices = _hospital_choices(user.hospital_id if user else None)
    form.expert_id.choices = _expert_choices(user.id if user else None)
    return form


def _binding(form: BindingForm) -> users.Binding:
    return users.Binding(display_name=form.display_name.data or "", role=form.role.data or "",
                         hospital_id=form.hospital_id.data, hospital_admin=bool(form.hospital_admin.data),
                         expert_id=form.expert_id.data)


def _get_user(user_id: int) -> User:
    found = db.session.get(User, user_id)
    if found is None:
        raise NotFound(_l("No such user."))
    return found


@bp.route("/users", endpoint="users")
@roles_required(*ACCOUNT_READERS)
def users_list() -> object:
    role = request.args.get("role", "")
    hospital_id = request.args.get("hospital", type=record_id)
    active = request.args.get("active", "")
    search = request.args.get("q", "").strip()[:60]
    query = db.select(User).order_by(User.username)
    if role in ROLES:
        query = query.where(User.role == role)
    if hospital_id:
        query = query.where(User.hospital_id == hospital_id)
    if active in YES_NO:
        query = query.where(User.active.is_(active == "yes"))
    if search:
        pattern = f"%{search}%"
        query = query.where(or_(User.username.ilike(pattern), User.display_name.like(pattern)))
    without_login = list(db.session.scalars(db.select(Expert).where(Expert.active.is_(True), Expert.id.not_in(
        db.select(User.expert_id).where(User.expert_id.is_not(None)))).order_by(Expert.code).limit(50)))
    return render_template("staff/users.html", page=paginate(query), roles=ROLES,
                           hospitals=list(db.session.scalars(db.select(Hospital).order_by(Hospital.code))),
                           filters={"role": role, "hospital": hospital_id, "active": active, "q": search},
                           without_login=without_login, action_form=ActionForm(formdata=None),
                           can_edit=current_user.role in ADMIN)


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(*ADMIN)
def new_user() -> object:
    form = _binding_form(UserForm())
    if form.validate_on_submit():
        try:
            issued = users.create_with_invitation(current_actor(), users.UserInput(
                **vars(_binding(form)), username=form.username.data or ""))
        except ValidationFailed as failure:
            _flash_unplaced(form, failure)
        else:
            flash(_("Account %(name)s created. Pass the link below to the user; it is shown only now.",
                    name=issued.username), "success")
            return invitations_page([issued])
    return render_template("staff/users_form.html", form=form), (422 if form.errors else 200)


def _user_page(found: User, form: BindingForm, status: int = 200) -> tuple[str, int]:
    log, actors = _log("user", found.id)
    return render_template("staff/users_detail.html", user=found, form=form, log=log, actors=actors, actions=ACTION,
                           fields=FIELD, action_form=ActionForm(formdata=None),
                           never_set=found.password_hash == users.UNUSABLE_PASSWORD,
                           can_edit=current_user.role in ADMIN), status


@bp.route("/users/<int:user_id>")
@roles_required(*ACCOUNT_READERS)
def user(user_id: int) -> object:
    found = _get_user(user_id)
    form = _binding_form(BindingForm(formdata=None, obj=found), found)
    return _user_page(found, form)


@bp.route("/users/<int:user_id>/edit", methods=["POST"])
@roles_required(*ADMIN)
def edit_user(user_id: int) -> object:
    found = _get_user(user_id)
    form = _binding_form(BindingForm(), found)
    if form.validate_on_submit():
        try:
            users.update_binding(current_actor(), found.id, _binding(form))
        except ValidationFailed as failure:
            _flash_unplaced(form, failure)
        else:
            flash(_("Account %(name)s saved.", name=found.username), "success")
            return redirect(url_for("staff.user", user_id=found.id))
    return _user_page(found, form, 422)


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@roles_required(*ADMIN)
def set_user_active(user_id: int) -> object:
    if ActionForm().validate_on_submit():
        enable = request.form.get("active") == "yes"
        changed = users.set_active(current_actor(), user_id, enable)
        flash(_("Account %(name)s enabled.", name=changed.username) if enable else
              _("Account %(name)s disabled; its sessions and open links have ended.", name=changed.username),
              "success")
    else:
        flash(_("The form expired; please try again."), "error")
    return redirect(url_for("staff.user", user_id=user_id))


@bp.route("/users/<int:user_id>/reset", methods=["POST"])
@roles_required(*ADMIN)
def reset_user(user_id: int) -> object:
    if not ActionForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("staff.user", user_id=user_id))
    issued = users.reset_password(current_actor(), user_id)
    flash(_("The password of %(name)s no longer works and all its sessions have ended. Pass the link below to the "
            "user; it is shown only now.", name=issued.username), "success")
    return invitations_page([issued])


@bp.route("/users/<int:user_id>/invite", methods=["POST"])
@roles_required(*ADMIN)
def invite_user(user_id: int) -> object:
    if not ActionForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("staff.user", user_id=user_id))
    invitation, token = users.invite(current_actor(), user_id)
    flash(_("A new link replaces the older ones. Pass it to the user; it is shown only now."), "success")
    return invitations_page([users.Issued(invitation.user_id, invitation.user.username, invitation.user.display_name,
                                          token, invitation.expires_at)])

