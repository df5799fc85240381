"""Logins, password hashing and the role rule every route must declare."""
from __future__ import annotations

import math
import time
from datetime import timedelta
from functools import wraps
from typing import Callable, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.exceptions import HTTPException
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from review.services.passwords import MAX_LENGTH

from review.clock import utcnow
from review.extensions import db, limiter, login_manager
from review.models import User
from review.forms import attach_errors
from review.services import activity, users
from review.services.context import Actor, ServiceError, ValidationFailed
from workflows.states import Role

F = TypeVar("F", bound=Callable)
PUBLIC = frozenset({"public"})
AUTHENTICATED = frozenset({"authenticated"})
HOME = {"hospital": "hospital.index", "expert": "expert.index", "staff": "staff.index", "admin": "staff.index",
        "auditor": "staff.index"}

_hasher = PasswordHasher()
bp = Blueprint("auth", __name__)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def roles_required(*roles: str) -> Callable[[F], F]:
    """Declare who may call a view; the route test fails for any view without such a declaration."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: object, **kwargs: object) -> object:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapper.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def public(view: F) -> F:
    view.allowed_roles = PUBLIC  # type: ignore[attr-defined]
    return view


def current_actor() -> Actor:
    return Actor(user_id=current_user.id, role=Role(current_user.role), hospital_id=current_user.hospital_id,
                 expert_id=current_user.expert_id, ip=request.remote_addr)


SESSION_VERSION, LOGGED_IN_AT, SEEN_AT = "session_version", "logged_in_at", "seen_at"


def _fresh_session() -> None:
    """Drop everything the session holds but the chosen language, which is no one's secret."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language


def _start_session(user: User) -> None:
    """Bind the new session to the user's current version and start both timeout clocks."""
    now = utcnow().timestamp()
    session[SESSION_VERSION] = user.session_version
    session[LOGGED_IN_AT] = now
    session[SEEN_AT] = now


def _session_still_valid(user: User) -> bool:
    """A signed cookie alone proves nothing after logout or a timeout: its version and clocks must still hold."""
    config = current_app.config
    now = utcnow().timestamp()
    logged_in_at, seen_at = session.get(LOGGED_IN_AT), session.get(SEEN_AT)
    if session.get(SESSION_VERSION) != user.session_version or logged_in_at is None or seen_at is None:
        return False
    idle = timedelta(minutes=config["SESSION_IDLE_MINUTES"]).total_seconds()
    lifetime = timedelta(hours=config["SESSION_MAX_HOURS"]).total_seconds()
    return now - seen_at <= idle and now - logged_in_at <= lifetime


def end_all_sessions(user: User) -> None:
    """Every cookie issued to this user so far stops working; the caller commits (logout, password change)."""
    user.session_version += 1


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active or not _session_still_valid(user):
        _fresh_session()
        return None
    session[SEEN_AT] = utcnow().timestamp()
    return user


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


def _submitted_username() -> str:
    """The throttle's key for one account, however its name is typed."""
    return "user:" + (request.form.get("username") or "").strip().lower()


def _login_failed(response: Response) -> bool:
    """Only a refused login costs an attempt (a success redirects), so people who log in often are never locked."""
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"], deduct_when=_login_failed)
@limiter.limit(lambda: current_app.config["LOGIN_USERNAME_RATE_LIMIT"], key_func=_submitted_username,
               methods=["POST"], deduct_when=_login_failed)
def login() -> object:
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalars(db.select(User).where(User.username == form.username.data)).first()
        if user is not None and user.is_active and check_password(user.password_hash, form.password.data or ""):
            _fresh_session()  # nothing from before the login is trusted
            login_user(user)
            _start_session(user)
            activity.record(current_actor(), "user.login", "user", user.id, user.hospital_id)
            db.session.commit()
            return redirect(url_for(HOME[user.role]))
        flash(_("Unknown user name or wrong password."), "error")
    return render_template("auth/login.html", form=form)


@bp.errorhandler(429)
def too_many_logins(error: HTTPException) -> tuple[str, int]:
    """Say how long to wait, the same figure as the Retry-After header Flask-Limiter adds to this answer."""
    limit = limiter.current_limit
    wait = max(1, math.ceil(limit.reset_at - time.time())) if limit else 60
    message = _("Too many failed logins. Try again in %(seconds)d seconds.", seconds=wait)
    return render_template("error.html", code=429, message=message), 429


@bp.route("/logout", methods=["POST"])
@roles_required(*HOME)
def logout() -> object:
    end_all_sessions(current_user)
    db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/")
@public
def root() -> object:
    if current_user.is_authenticated:
        return redirect(url_for(HOME[current_user.role]))
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>", methods=["POST"])
@public
def set_language(code: str) -> object:
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    target = request.referrer or url_for("auth.root")
    if not target.startswith(request.host_url):
        target = url_for("auth.root")
    return redirect(target)


# --- passwords: the user's own change, and the one-time link an administrator hands out ------------------------

class PasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=MAX_LENGTH)])
    confirm = PasswordField(_l("New password again"), validators=[DataRequired(), Length(max=MAX_LENGTH)])


class ChangePasswordForm(PasswordForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])


MAX_TOKEN_CHARS = 100


def invitation_link(token: str) -> str:
    """The address to hand to the user: on the bureau's public address when configured, else this host's."""
    base = current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")
    if base:
        return base + url_for("auth.invitation", token=token)
    return url_for("auth.invitation", token=token, _external=True)


def _show_unplaced(form: FlaskForm, failure: ValidationFailed) -> None:
    for message in attach_errors(form, failure):
        flash(message, "error")


@bp.route("/account/password", methods=["GET", "POST"])
@roles_required(*HOME)
def change_password() -> object:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            user = users.change_password(current_actor(), form.current.data or "", form.password.data or "",
                                         form.confirm.data or "")
        except ValidationFailed as failure:
            _show_unplaced(form, failure)
        else:
            _start_session(user)  # this browser stays logged in under the new session version; others do not
            flash(_("Your password is changed. Other sessions of your account have ended."), "success")
            return redirect(url_for(HOME[user.role]))
    return render_template("auth/password.html", form=form), (422 if form.errors else 200)


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"], deduct_when=_login_failed)
def invitation(token: str) -> object:
    """Public: the link itself is the credential. A used, replaced or expired link says so and changes nothing."""
    try:
        if len(token) > MAX_TOKEN_CHARS:
            raise ServiceError(_l("This link is not valid."))
        found = users.open_invitation(token)
    except ServiceError as refusal:
        return render_template("auth/invitation.html", form=None, refusal=refusal.message), 404
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            user = users.accept_invitation(token, form.password.data or "", form.confirm.data or "")
        except ValidationFailed as failure:
            _show_unplaced(form, failure)
        else:
            if current_user.is_authenticated:
                logout_user()
            _fresh_session()
            flash(_("Your password is set. Sign in with your user name %(name)s.", name=user.username), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/invitation.html", form=form, invited=found.user, purpose=found.purpose,
                           expires_at=found.expires_at), (422 if form.errors else 200)
