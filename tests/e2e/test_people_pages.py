"""An administrator creates a hospital user in a real browser; the user opens the one-time link in a browser of
their own, sets a password and logs in with it (CSRF on, as in production)."""
from __future__ import annotations

import re

from review.extensions import db
from review.models import User
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, expect, login, served, sync_api  # noqa: F401
from tests.e2e.test_browser import pytestmark  # noqa: F401  (skipped without Debian's chromium)

NEW_PASSWORD = "lotus pond audit trail 9"


def test_admin_creates_a_hospital_user_who_sets_a_password_through_the_link(served) -> None:  # type: ignore
    app, world, base = served
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            admin = browser.new_context(locale="en-US").new_page()
            admin.set_default_timeout(10000)
            login(admin, base, "admin")
            admin.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Users").click()
            admin.get_by_role("link", name="Add a user").click()
            admin.fill("#username", "h2clerk")
            admin.fill("#display_name", "Clerk of H2")
            admin.select_option("#role", "hospital")
            admin.select_option("#hospital_id", str(world.hospitals["H2"]))
            admin.get_by_role("button", name="Create the account and its link").click()
            expect(admin.locator(".flash-success")).to_contain_text("h2clerk")
            link = admin.locator(".invitation-link").inner_text().strip()
            assert re.fullmatch(rf"{re.escape(base)}/invitation/[\w-]{{40,}}", link)

            user = browser.new_context(locale="en-US").new_page()  # a fresh browser: no cookie of the admin
            user.set_default_timeout(10000)
            user.goto(link)
            expect(user.locator("main")).to_contain_text("h2clerk")
            user.fill("#password", "qwerty123456")
            user.fill("#confirm", "qwerty123456")
            user.get_by_role("button", name="Set password").click()
            expect(user.locator("#password-errors")).to_contain_text("commonly used")
            user.fill("#password", NEW_PASSWORD)
            user.fill("#confirm", NEW_PASSWORD)
            user.get_by_role("button", name="Set password").click()
            expect(user).to_have_url(re.compile(r"/login$"))
            user.fill("#username", "h2clerk")
            user.fill("#password", NEW_PASSWORD)
            user.get_by_role("button", name="Sign in").click()
            expect(user.locator("header .who")).to_have_text("Clerk of H2")
            expect(user).to_have_url(re.compile(r"/hospital/$"))

            user.goto(link)  # used once: it no longer opens
            expect(user.locator(".notice-error")).to_contain_text("not valid")
        finally:
            browser.close()
    with app.app_context():
        created = db.session.scalars(db.select(User).where(User.username == "h2clerk")).one()
        assert (created.role, created.hospital_id) == ("hospital", world.hospitals["H2"])
        db.session.remove()
