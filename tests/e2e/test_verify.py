"""The public verification route: declared public, rate-limited like the login, and safe to show to anyone."""
from __future__ import annotations

from pathlib import Path

from review import create_app
from review.auth import PUBLIC
from review.extensions import db, limiter
from tests.conftest import make_config


def test_verify_is_the_only_new_public_route(app) -> None:  # type: ignore[no-untyped-def]
    rules = {rule.rule: rule.endpoint for rule in app.url_map.iter_rules()}
    assert rules["/verify/<code>"] == "verify.verify"
    assert app.view_functions["verify.verify"].allowed_roles == PUBLIC
    assert "GET" in next(r for r in app.url_map.iter_rules() if r.rule == "/verify/<code>").methods


def test_verify_is_rate_limited(tmp_path: Path) -> None:
    """Own app with the limiter on (tests switch it off), so the count starts from zero here."""
    application = create_app(make_config(f"sqlite:///{tmp_path / 'limit.sqlite'}", tmp_path / "uploads",
                                         RATELIMIT_ENABLED=True, VERIFY_RATE_LIMIT="3 per minute"))
    with application.app_context():
        db.create_all()
        limiter.reset()
        client = application.test_client()
        statuses = [client.get("/verify/0000000000000000").status_code for _ in range(4)]
        assert statuses == [404, 404, 404, 429]
        assert client.get("/login").status_code == 200  # other pages are not affected
        limiter.reset()
        db.session.remove()
        db.engine.dispose()


def test_unknown_code_page_is_plain_and_leaks_nothing(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/verify/<img src=x onerror=alert(1)>")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "No issued decision has this code" in page and "<img src=x" not in page
