"""The letterhead page: the bureau that signs a region's decision letters, its 文号 prefix and legal basis.

Administrators edit it; routes.py imports this module at its end, like the other staff screens. The view
validates the form, calls review.services.letterheads.save and redirects.
"""
from __future__ import annotations

from dataclasses import fields

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from review.auth import current_actor, roles_required
from review.extensions import db
from review.forms import attach_errors
from review.models import Region
from review.services import letterheads
from review.services.context import ValidationFailed
from review.services.cycles import region_today
from review.staff.routes import bp

ADMIN = ("admin",)


class LetterheadForm(FlaskForm):
    bureau_name_zh = StringField(_l("Issuing bureau (Chinese)"), validators=[DataRequired(), Length(max=200)])
    bureau_name_en = StringField(_l("Issuing bureau (English)"), validators=[DataRequired(), Length(max=200)])
    issuer_code_zh = StringField(_l("Reference prefix (Chinese), e.g. 测医保审"),
                                 validators=[DataRequired(), Length(max=40)])
    issuer_code_en = StringField(_l("Reference prefix (English)"),
                                 validators=[DataRequired(), Length(max=40)])
    legal_basis_zh = TextAreaField(_l("Legal basis (Chinese): one policy document per line"),
                                   validators=[Length(max=8000)])
    legal_basis_en = TextAreaField(_l("Legal basis (English): one policy document per line"),
                                   validators=[Length(max=8000)])
    address_zh = StringField(_l("Address (Chinese)"), validators=[Length(max=300)])
    address_en = StringField(_l("Address (English)"), validators=[Length(max=300)])
    contact = StringField(_l("Contact (telephone or e-mail)"), validators=[Length(max=200)])

    def values(self) -> letterheads.LetterheadValues:
        return letterheads.LetterheadValues(**{f.name: getattr(self, f.name).data or ""
                                               for f in fields(letterheads.LetterheadValues)})


@bp.route("/regions/<int:region_id>/letterhead", methods=["GET", "POST"])
@roles_required(*ADMIN)
def letterhead(region_id: int) -> object:
    """Shown filled with the saved letterhead, or with the defaults a letter prints while none is saved."""
    region = db.get_or_404(Region, region_id)
    current = letterheads.letterhead_for(region)
    form = LetterheadForm(data={f.name: getattr(current, f.name) for f in fields(letterheads.LetterheadValues)})
    if form.validate_on_submit():
        try:
            letterheads.save(current_actor(), region.id, form.values())
        except ValidationFailed as failure:
            for message in attach_errors(form, failure):
                flash(message, "error")
        else:
            flash(_("Letterhead saved: letters issued from now on carry it."), "success")
            return redirect(url_for("staff.letterhead", region_id=region.id))
    example, _english = letterheads.reference(current, region_today(region).year, 1, "decision")
    return render_template("staff/letterhead.html", region=region, form=form, example=example)
