"""API tokens for the hospital's own systems: a hospital administrator creates, lists and revokes them."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from review.auth import current_actor, roles_required
from review.forms import attach_errors
from review.hospital.routes import HOSPITAL, bp
from review.services import api_tokens
from review.services.context import ValidationFailed


class TokenForm(FlaskForm):
    name = StringField(_l("Name (the system that will use the token)"),
                       validators=[DataRequired(), Length(max=api_tokens.MAX_NAME_CHARS)])


class RevokeForm(FlaskForm):
    pass


@bp.route("/tokens", methods=["GET", "POST"])
@roles_required(HOSPITAL)
def tokens() -> object:
    actor = current_actor()
    existing = api_tokens.list_tokens(actor)  # refuses anyone but a hospital administrator (403)
    form = TokenForm()
    created = secret = None
    if form.validate_on_submit():
        try:
            created, secret = api_tokens.create_token(actor, form.name.data or "")
        except ValidationFailed as failure:
            for message in attach_errors(form, failure):
                flash(message, "error")
        else:
            form = TokenForm(formdata=None)
            existing = api_tokens.list_tokens(actor)
    # the secret is rendered into this one response only: never stored, flashed or put in a redirect
    return render_template("hospital/tokens.html", form=form, tokens=existing, created=created, secret=secret,
                           revoke_form=RevokeForm()), (422 if form.errors else 200)


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@roles_required(HOSPITAL)
def revoke_token(token_id: int) -> object:
    form = RevokeForm()
    if form.validate_on_submit():
        token = api_tokens.revoke_token(current_actor(), token_id)
        flash(_("Token %(prefix)s… (%(name)s) is revoked; systems using it are refused from now on.",
                prefix=token.prefix, name=token.name), "success")
    return redirect(url_for("hospital.tokens"))
