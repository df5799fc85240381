"""Expert pool screens (administrators edit; the review office and auditors read).

Routes are added to the `staff` blueprint; routes.py imports this module at its end. Each view validates a
form, calls one service of review.services.experts and redirects; the reads are plain queries, since the
pool is no hospital's data and every reader may see all of it.
"""
from __future__ import annotations

from datetime import date

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import String, and_, cast, not_, or_
from sqlalchemy.orm import contains_eager
from wtforms import BooleanField
from wtforms.fields.choices import SelectChoice

from review.auth import current_actor, roles_required
from review.extensions import db
from review.forms import attach_errors
from review.labels import HOSPITAL_LEVEL, SPECIALTY, TITLE
from review.models import ActivityLog, Expert, ExpertConflict, Hospital, Policy, SpecialtyRelation, User
from review.pagination import paginate
from review.services import cycles, policies, table_import, users
from review.services import experts as expert_pool
from review.services.context import NotFound, PermissionDenied, ServiceError, ValidationFailed
from review.staff.pool_forms import ActionForm, ConflictForm, EndConflictForm, ExpertForm, ImportForm, RelationForm
from review.staff import table_upload
from review.staff.admin import invitations_page
from review.staff.routes import READERS, bp
from review.web import record_id
from workflows.pool import SPECIALTIES, TITLES, qualifies

ADMIN = ("admin",)
"""Only administrators change the pool (DESIGN §1); the review office and auditors read it."""

MAX_SHOWN_ROW_ERRORS = 200
"""A refused 20,000-row file can carry tens of thousands of errors; the first ones are enough to fix it."""

YES_NO = ("yes", "no")

IMPORT_COLUMN = {
    "code": "code", "name_en": "name_en", "name_zh": "name_zh", "title": "title", "hospital": "hospital_code",
    "specialties": "specialties", "cap_per_cycle": "cap_per_cycle", "active": "active",
}
"""The file column a row error is about (the service names the profile field, the user sees the column)."""

FIELD = {
    "code": _l("Code"),
    "name_en": _l("Name in English"),
    "name_zh": _l("Name in Chinese"),
    "title": _l("Title"),
    "hospital": _l("Hospital"),
    "hospital_id": _l("Hospital"),
    "specialties": _l("Specialties"),
    "cap_per_cycle": _l("Cap per cycle"),
    "active": _l("Active"),
    "note": _l("Note"),
}

ACTION = {
    "expert.created": _l("Profile created"),
    "expert.updated": _l("Profile changed"),
    "expert.imported": _l("Changed by a file import"),
    "expert.conflict_declared": _l("Conflict declared"),
    "expert.conflict_ended": _l("Conflict ended"),
}

CONFLICT_STATUS = {
    "upcoming": _l("Not yet in force"),
    "active": _l("In force"),
    "ended": _l("Ended"),
}


# --- helpers -----------------------------------------------------------------------------------------------

def _current_policy() -> Policy:
    return policies.default_region().current_policy()


def _today() -> date:
    """The bureau's date, not the server's: a conflict ends on the day the bureau says it does."""
    return cycles.region_today(policies.default_region())


def _admitted_titles(policy: Policy) -> list[str]:
    """The minimum title and every title above it, as workflows.pool.qualifies reads them."""
    if policy.panel_min_title not in TITLES:
        return []
    return list(TITLES[: TITLES.index(policy.panel_min_title) + 1])


def _qualified_clause(policy: Policy):  # type: ignore[no-untyped-def]
    """SQL for workflows.pool.qualifies, so that the filter and the badge can never disagree on a row."""
    return and_(Expert.title.in_(_admitted_titles(policy)),
                Hospital.level.in_(list(policy.panel_hospital_levels or [])))


def _is_qualified(expert: Expert, policy: Policy) -> bool:
    return qualifies(expert.title, expert.hospital.level, policy.panel_min_title, policy.panel_hospital_levels or [])


def _levels_label(policy: Policy) -> str:
    """The admitted levels as a sentence lists them (Chinese lists with the enumeration comma 、)."""
    separator = "、" if str(get_locale()).startswith("zh") else ", "
    return separator.join(str(HOSPITAL_LEVEL.get(level, level)) for level in policy.panel_hospital_levels or []) or "—"


def _why_not_qualified(expert: Expert, policy: Policy) -> list[str]:
    """Plain reasons for the profile page, so nobody has to work out the rule by hand."""
    reasons = []
    if expert.title not in _admitted_titles(policy):
        reasons.append(_("The title is below the policy minimum (%(title)s).",
                         title=TITLE.get(policy.panel_min_title, policy.panel_min_title)))
    if expert.hospital.level not in (policy.panel_hospital_levels or []):
        reasons.append(_("Experts of %(level)s hospitals are not admitted to panels.",
                         level=HOSPITAL_LEVEL.get(expert.hospital.level, expert.hospital.level)))
    return reasons


def _hospitals() -> list[Hospital]:
    return list(db.session.scalars(db.select(Hospital).order_by(Hospital.code)))


def _hospital_label(hospital: Hospital) -> str:
    """A hospital as the selects offer it: name in the reader's language, code and level."""
    name = hospital.name_zh if str(get_locale()).startswith("zh") else hospital.name_en
    return _("%(name)s (%(code)s) · %(level)s", name=name, code=hospital.code,
             level=HOSPITAL_LEVEL.get(hospital.level, hospital.level))


def _hospital_choices() -> list[SelectChoice]:
    """Hospitals by code, the key the service and the import file use."""
    return [SelectChoice(h.code, _hospital_label(h)) for h in _hospitals()]


def _flash_unplaced(form: object, failure: ValidationFailed) -> None:
    for message in attach_errors(form, failure):  # type: ignore[arg-type]
        flash(message, "error")


def _expert_input(form: ExpertForm) -> expert_pool.ExpertInput:
    return expert_pool.ExpertInput(
        code=(form.code.data or "").strip(), name_en=form.name_en.data or "", name_zh=form.name_zh.data or "",
        title=form.title.data or "", hospital_code=form.hospital.data or "",
        specialties=tuple(form.specialties.data or ()), cap_per_cycle=int(form.cap_per_cycle.data or 0),
        active=bool(form.active.data), note=form.note.data or "")


def _fill(form: ExpertForm, expert: Expert) -> None:
    """Put the stored profile into the fields (the form names the hospital by code, as the service does)."""
    form.code.data, form.name_en.data, form.name_zh.data = expert.code, expert.name_en, expert.name_zh
    form.title.data, form.hospital.data = expert.title, expert.hospital.code
    form.specialties.data = list(expert.specialties or [])
    form.cap_per_cycle.data, form.active.data, form.note.data = expert.cap_per_cycle, expert.active, expert.note


def _get_expert(expert_id: int) -> Expert:
    expert = db.session.get(Expert, expert_id)
    if expert is None:
        raise NotFound(_l("No such expert."))
    return expert


# --- the list ----------------------------------------------------------------------------------------------

@bp.route("/experts")
@roles_required(*READERS)
def experts() -> object:
    policy = _current_policy()
    specialty = request.args.get("specialty", "")
    title = request.args.get("title", "")
    hospital_id = request.args.get("hospital", type=record_id)
    active = request.args.get("active", "")
    qualified = request.args.get("qualified", "")
    search = request.args.get("q", "").strip()[:60]
    query = (db.select(Expert).join(Expert.hospital).options(contains_eager(Expert.hospital))
             .order_by(Expert.code))
    if specialty in SPECIALTIES:
        # Specialties are a JSON list of codes from a closed vocabulary of [a-z_] words, always serialised with
        # their quotes, so matching the quoted code in the JSON text is exact on SQLite and PostgreSQL alike.
        query = query.where(cast(Expert.specialties, String).contains(f'"{specialty}"', autoescape=True))
    if title in TITLES:
        query = query.where(Expert.title == title)
    if hospital_id:
        query = query.where(Expert.hospital_id == hospital_id)
    if active in YES_NO:
        query = query.where(Expert.active.is_(active == "yes"))
    if qualified == "yes":
        query = query.where(_qualified_clause(policy))
    elif qualified == "no":
        query = query.where(not_(_qualified_clause(policy)))
    if search:
        pattern = f"%{search}%"
        query = query.where(or_(Expert.code.ilike(pattern), Expert.name_en.ilike(pattern),
                                Expert.name_zh.like(pattern)))
    page = paginate(query)
    counted = db.select(db.func.count()).select_from(Expert).join(Expert.hospital).where(Expert.active.is_(True))
    summary = {"total": db.session.scalar(db.select(db.func.count()).select_from(Expert)) or 0,
               "active": db.session.scalar(counted) or 0,
               "qualified": db.session.scalar(counted.where(_qualified_clause(policy))) or 0}
    return render_template(
        "staff/experts.html", page=page, policy=policy, summary=summary, hospitals=_hospitals(),
        qualified_ids={e.id for e in page.items if _is_qualified(e, policy)},
        filters={"specialty": specialty, "title": title, "hospital": hospital_id, "active": active,
                 "qualified": qualified, "q": search},
        specialties=SPECIALTIES, titles=TITLES, can_edit=current_user.role in ADMIN,
        title_label=TITLE.get(policy.panel_min_title, policy.panel_min_title), levels_label=_levels_label(policy))


# --- one expert --------------------------------------------------------------------------------------------

def _conflict_status(conflict: ExpertConflict, today: date) -> str:
    if conflict.starts_on > today:
        return "upcoming"
    if conflict.ends_on is not None and conflict.ends_on < today:
        return "ended"
    return "active"


def _conflict_form(expert: Expert, formdata: object = None) -> ConflictForm:
    """The declare form; the expert's own hospital is left out, since it is always a conflict anyway."""
    form = ConflictForm(formdata=formdata)
    form.hospital_id.choices = [SelectChoice(0, _("Choose a hospital"))] + [
        SelectChoice(h.id, _hospital_label(h)) for h in _hospitals() if h.id != expert.hospital_id]
    if formdata is None:
        form.starts_on.data = _today()
    return form


def _expert_page(expert: Expert, conflict_form: ConflictForm, status: int = 200) -> tuple[str, int]:
    policy = _current_policy()
    today = _today()
    conflicts = list(db.session.scalars(db.select(ExpertConflict).where(ExpertConflict.expert_id == expert.id)
                                        .order_by(ExpertConflict.starts_on.desc(), ExpertConflict.id.desc())))
    log = list(db.session.scalars(db.select(ActivityLog).where(
        ActivityLog.object_type == "expert", ActivityLog.object_id == expert.id)
        .order_by(ActivityLog.id.desc()).limit(20)))
    actor_ids = {row.actor_id for row in log if row.actor_id}
    actors = dict(db.session.execute(db.select(User.id, User.display_name).where(User.id.in_(actor_ids))).all())
    end_form = EndConflictForm(formdata=None)
    end_form.ends_on.data = today
    return render_template(
        "staff/expert.html", expert=expert, policy=policy, qualified=_is_qualified(expert, policy),
        reasons=_why_not_qualified(expert, policy), conflicts=conflicts, today=today,
        statuses={c.id: _conflict_status(c, today) for c in conflicts}, status_labels=CONFLICT_STATUS,
        conflict_form=conflict_form, end_form=end_form, log=log, actors=actors, actions=ACTION, fields=FIELD,
        can_edit=current_user.role in ADMIN, action_form=ActionForm(),
        login=db.session.scalars(db.select(User).where(User.expert_id == expert.id)).first()), status


@bp.route("/experts/<int:expert_id>")
@roles_required(*READERS)
def expert(expert_id: int) -> object:
    found = _get_expert(expert_id)
    return _expert_page(found, _conflict_form(found))


@bp.route("/experts/new", methods=["GET", "POST"])
@roles_required(*ADMIN)
def new_expert() -> object:
    form = ExpertForm()
    form.hospital.choices = [SelectChoice("", _("Choose a hospital"))] + _hospital_choices()
    return _expert_form(form, None)


@bp.route("/experts/<int:expert_id>/edit", methods=["GET", "POST"])
@roles_required(*ADMIN)
def edit_expert(expert_id: int) -> object:
    found = _get_expert(expert_id)
    form = ExpertForm()
    form.hospital.choices = _hospital_choices()
    if request.method == "GET":
        _fill(form, found)
    return _expert_form(form, found)


def _expert_form(form: ExpertForm, found: Expert | None) -> object:
    """Create and edit share one round trip: validate, save through the service, show its field errors."""
    if form.validate_on_submit():
        try:
            saved = expert_pool.save(current_actor(), found.id if found else None, _expert_input(form))
        except ValidationFailed as failure:
            _flash_unplaced(form, failure)
        else:
            message = _("Expert %(code)s saved.", code=saved.code) if found else \
                _("Expert %(code)s added to the pool.", code=saved.code)
            flash(message, "success")
            return redirect(url_for("staff.expert", expert_id=saved.id))
    return render_template("staff/expert_form.html", form=form, expert=found), (422 if form.errors else 200)


# --- conflicts ---------------------------------------------------------------------------------------------

@bp.route("/experts/<int:expert_id>/conflicts", methods=["POST"])
@roles_required(*ADMIN)
def declare_conflict(expert_id: int) -> object:
    found = _get_expert(expert_id)
    form = _conflict_form(found, request.form)
    if form.validate_on_submit():
        try:
            expert_pool.declare_conflict(current_actor(), found.id, expert_pool.ConflictInput(
                hospital_id=form.hospital_id.data, starts_on=form.starts_on.data, ends_on=form.ends_on.data,
                reason=form.reason.data or ""))
        except ValidationFailed as failure:
            _flash_unplaced(form, failure)
        else:
            flash(_("Conflict declared: the expert will not be drawn for that hospital's items."), "success")
            return redirect(url_for("staff.expert", expert_id=found.id))
    return _expert_page(found, form, 422)


@bp.route("/experts/<int:expert_id>/conflicts/<int:conflict_id>/end", methods=["POST"])
@roles_required(*ADMIN)
def end_conflict(expert_id: int, conflict_id: int) -> object:
    conflict = db.session.get(ExpertConflict, conflict_id)
    if conflict is None or conflict.expert_id != expert_id:
        raise NotFound(_l("No such conflict."))
    form = EndConflictForm()
    if form.validate_on_submit():
        try:
            expert_pool.end_conflict(current_actor(), conflict.id, form.ends_on.data)
        except ValidationFailed as failure:
            for messages in failure.errors.values():
                for message in messages:
                    flash(message, "error")
        else:
            flash(_("Conflict ended on %(day)s; it stays on record.", day=form.ends_on.data.isoformat()), "success")
    else:
        for messages in form.errors.values():
            for message in messages:
                flash(str(message), "error")
    return redirect(url_for("staff.expert", expert_id=expert_id))


# --- import ------------------------------------------------------------------------------------------------

class ExpertImportForm(ImportForm):
    create_logins = BooleanField(_l("Create logins for new experts (each gets a one-time link to set a password)"))


def _import_page(form: ImportForm, plan: table_import.Plan | None = None,
                 outcome: table_import.Outcome | None = None, token: str | None = None,
                 file_name: str | None = None, status: int = 200) -> tuple[str, int]:
    errors = list((plan or outcome).errors) if (plan or outcome) else []
    return render_template("staff/expert_import.html", form=form, errors=errors[:MAX_SHOWN_ROW_ERRORS],
                           hidden_errors=max(0, len(errors) - MAX_SHOWN_ROW_ERRORS), columns=IMPORT_COLUMN,
                           fields=FIELD, aliases=expert_pool.COLUMNS, required=expert_pool.REQUIRED,
                           max_rows=expert_pool.MAX_IMPORT_ROWS, plan=None if errors else plan, token=token,
                           file_name=file_name, shown=MAX_SHOWN_ROW_ERRORS), status


def _imported(outcome: table_import.Outcome) -> object:
    flash(_("Import done: %(created)s experts added and %(updated)s updated.", created=outcome.created,
            updated=outcome.updated), "success")
    issued = getattr(outcome, "invitations", ())
    if issued:
        return invitations_page(issued)
    return redirect(url_for("staff.experts"))


IMPORT_SCREEN = table_upload.ImportScreen(
    kind="expert", preview=expert_pool.preview, page=_import_page, done=_imported,
    commit=lambda actor, path, name: expert_pool.import_file(
        actor, path, file_name=name, create_logins=request.form.get("create_logins") in ("y", "on", "true")))


@bp.route("/experts/import", methods=["GET", "POST"])
@roles_required(*ADMIN)
def import_experts() -> object:
    return table_upload.upload(IMPORT_SCREEN, ExpertImportForm())


@bp.route("/experts/import/confirm", methods=["POST"])
@roles_required(*ADMIN)
def confirm_expert_import() -> object:
    return table_upload.confirm(IMPORT_SCREEN, ExpertImportForm(formdata=None))


@bp.route("/experts/<int:expert_id>/login", methods=["POST"])
@roles_required(*ADMIN)
def create_expert_login(expert_id: int) -> object:
    if not ActionForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("staff.expert", expert_id=expert_id))
    return invitations_page([users.create_expert_login(current_actor(), expert_id)])


@bp.route("/experts/template.csv")
@roles_required(*ADMIN)
def expert_template() -> Response:
    # A byte-order mark, or Excel opens the UTF-8 example's Chinese name as mojibake; the import reads it back.
    return Response("\ufeff" + expert_pool.template_csv(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="expert_pool_template.csv"'})


# --- specialty stand-ins -----------------------------------------------------------------------------------

def _specialties_page(form: RelationForm, status: int = 200) -> tuple[str, int]:
    policy = _current_policy()
    relations = list(db.session.scalars(db.select(SpecialtyRelation).order_by(SpecialtyRelation.specialty,
                                                                              SpecialtyRelation.stand_in)))
    creator_ids = {r.created_by_id for r in relations if r.created_by_id}
    creators = dict(db.session.execute(db.select(User.id, User.display_name).where(User.id.in_(creator_ids))).all())
    # The pool is a few thousand people at most: counting specialties in Python keeps the JSON list portable.
    coverage = {code: {"active": 0, "qualified": 0} for code in SPECIALTIES}
    for member in db.session.scalars(db.select(Expert).join(Expert.hospital).options(contains_eager(Expert.hospital))
                                     .where(Expert.active.is_(True))):
        fit = _is_qualified(member, policy)
        for code in member.specialties or []:
            if code in coverage:
                coverage[code]["active"] += 1
                coverage[code]["qualified"] += int(fit)
    stand_ins: dict[str, list[str]] = {}
    for relation in relations:
        stand_ins.setdefault(relation.specialty, []).append(relation.stand_in)
    return render_template("staff/specialties.html", form=form, relations=relations, creators=creators,
                           coverage=coverage, stand_ins=stand_ins, specialties=SPECIALTIES, labels_of=SPECIALTY,
                           panel_size=policy.panel_size,
                           can_edit=current_user.role in ADMIN), status


@bp.route("/specialties")
@roles_required(*READERS)
def specialties() -> object:
    return _specialties_page(RelationForm(formdata=None))


@bp.route("/specialties", methods=["POST"])
@roles_required(*ADMIN)
def add_relation() -> object:
    form = RelationForm()
    if form.validate_on_submit():
        try:
            added = expert_pool.add_relation(current_actor(), form.specialty.data, form.stand_in.data,
                                             both_ways=bool(form.both_ways.data))
        except ValidationFailed as failure:
            _flash_unplaced(form, failure)
        except (PermissionDenied, NotFound):
            raise
        except ServiceError as refusal:  # already recorded: say so beside the form, not on another page
            flash(str(refusal.message), "error")
        else:
            flash(ngettext("%(num)s specialty relation added.", "%(num)s specialty relations added.", len(added)),
                  "success")
            return redirect(url_for("staff.specialties"))
    return _specialties_page(form, 422)


@bp.route("/specialties/<int:relation_id>/remove", methods=["POST"])
@roles_required(*ADMIN)
def remove_relation(relation_id: int) -> object:
    if ActionForm().validate_on_submit():
        expert_pool.remove_relation(current_actor(), relation_id)
        flash(_("Specialty relation removed."), "success")
    else:
        flash(_("The form expired; please try again."), "error")
    return redirect(url_for("staff.specialties"))
