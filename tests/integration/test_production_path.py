"""The README's production section, run as written against an empty PostgreSQL database: migrations and grants as
the tables' owner, set-up and the servers as the application's role, then a login over HTTP in Chinese. (A second
set-up is refused and `holidays seed` repeats safely: tests/integration/test_bootstrap.py and test_holidays.py run
those in-process, each subprocess here costing seconds of start-up.)

A bureau that installs by the README and does not load the demo must reach a working bureau by these commands
alone; this test is that promise.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from review.config import PROJECT_ROOT
from tests.conftest import PG_URL, REDIS_URL, _create_database

pytestmark = [pytest.mark.skipif(not (PG_URL and REDIS_URL), reason="needs TEST_DATABASE_URL and REDIS_URL (CI sets "
                                                                     "both)"), pytest.mark.wall_clock]

BIN = Path(sys.executable).parent
PASSWORD = "Harbour-lights-at-dusk-2026"
SETUP = ["--region-code", "440300", "--region-name-en", "Shenzhen", "--region-name-zh", "深圳市",
         "--timezone", "Asia/Shanghai", "--base-rate-yuan", "18500.00", "--admin-username", "chen.admin",
         "--admin-name", "Chen Jing", "--admin-password-stdin"]
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _databases() -> tuple[str, str, str]:
    """An empty database beside the test database, its owner's URL and the application role's URL."""
    base = make_url(PG_URL)
    name = f"{base.database}_prod"
    role = f"{base.database}_app"
    _create_database(PG_URL, name)
    owner = base.set(database=name)
    engine = create_engine(owner)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        if not connection.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}):
            connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))  # the database administrator's one step
    engine.dispose()
    return (owner.render_as_string(hide_password=False), owner.set(username=role).render_as_string(hide_password=False),
            role)


def _environment(database_url: str, tmp_path: Path, port: int) -> dict[str, str]:
    return {**os.environ, "REVIEW_ENV": "production", "SECRET_KEY": "production-path-secret",
            "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "UPLOAD_DIR": str(tmp_path / "uploads"),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "REGISTER_HMAC_KEY": "p" * 40,
            "REGISTER_ANCHOR_KEY": "a" * 40, "REGISTER_ANCHOR_DIR": str(tmp_path / "anchors"),
            "CELERY_QUEUE": f"production-path-{os.getpid()}-{time.time_ns()}",
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def _run(command: list[str], env: dict[str, str], stdin: str = "") -> str:
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, input=stdin, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _compiled_translations(env: dict[str, str]) -> None:
    """`pybabel compile` as the README says, unless the catalogue is compiled already (make test does it)."""
    folder = PROJECT_ROOT / "review" / "translations" / "zh_CN" / "LC_MESSAGES"
    compiled, source = folder / "messages.mo", folder / "messages.po"
    if not compiled.exists() or compiled.stat().st_mtime < source.stat().st_mtime:
        _run([str(BIN / "pybabel"), "compile", "-d", "review/translations"], env)


class Browser:
    """Just enough of a browser over urllib: cookies kept by hand (the production cookie is Secure, which
    http.cookiejar would not send to http://127.0.0.1), redirects followed, Chinese asked for."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies: dict[str, str] = {}
        self.opener = urllib.request.build_opener(_NoRedirect)

    def request(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        for _hop in range(5):
            request = urllib.request.Request(self.base + path, data=urllib.parse.urlencode(form).encode()
                                             if form is not None else None)
            request.add_header("Accept-Language", "zh-CN,zh;q=0.9")
            if self.cookies:
                request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
            try:
                response = self.opener.open(request, timeout=20)
            except urllib.error.HTTPError as answer:
                response = answer
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, value = header.split(";", 1)[0].partition("=")
                self.cookies[name.strip()] = value
            body = response.read().decode()
            if response.status in (301, 302, 303):
                path, form = urllib.parse.urlsplit(response.headers["Location"]).path, None
                continue
            return response.status, path, body
        raise AssertionError("too many redirects")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def _wait(check, processes: list[subprocess.Popen], logs: list[Path], what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if check():
            return
        for process, log in zip(processes, logs):
            assert process.poll() is None, f"{what}: a process stopped:\n{log.read_text()}"
        time.sleep(0.2)
    pytest.fail(f"{what} within 60 s:\n" + "\n".join(log.read_text() for log in logs))


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
            return json.loads(response.read())["status"] == "ok"
    except (OSError, ValueError):
        return False


def test_the_readme_production_commands_make_a_working_bureau(tmp_path: Path) -> None:
    owner_url, app_url, role = _databases()
    port = _free_port()
    owner, app = _environment(owner_url, tmp_path, port), _environment(app_url, tmp_path, port)
    flask = [str(BIN / "flask"), "--app", "wsgi"]
    _compiled_translations(owner)
    _run([*flask, "db", "upgrade"], owner)
    assert "SELECT, INSERT, UPDATE, DELETE on" in _run([*flask, "grants", "apply", "--role", role], owner)
    assert "Region 440300 set up" in _run([*flask, "setup", *SETUP], app, stdin=PASSWORD + "\n")
    web_log, worker_log = tmp_path / "gunicorn.log", tmp_path / "worker.log"
    with open(web_log, "w") as web_out, open(worker_log, "w") as worker_out:
        web = subprocess.Popen([str(BIN / "gunicorn"), "--workers", "1", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
                               cwd=PROJECT_ROOT, env=app, stdout=web_out, stderr=subprocess.STDOUT)
        worker = subprocess.Popen([str(BIN / "celery"), "-A", "wsgi:celery_app", "worker", "--pool=solo",
                                   "--loglevel=INFO", "-Q", app["CELERY_QUEUE"], "--without-gossip",
                                   "--without-mingle", "--without-heartbeat"],
                                  cwd=PROJECT_ROOT, env=app, stdout=worker_out, stderr=subprocess.STDOUT)
    processes, logs = [web, worker], [web_log, worker_log]
    try:
        base = f"http://127.0.0.1:{port}"
        _wait(lambda: _healthy(base), processes, logs, "gunicorn did not answer /healthz")
        browser = Browser(base)
        status, path, page = browser.request("/login")
        assert status == 200 and "登录" in page
        token = next(group for group in CSRF.search(page).groups() if group)
        status, path, page = browser.request("/login", {"csrf_token": token, "username": "chen.admin",
                                                        "password": PASSWORD})
        assert (status, path) == (200, "/staff/"), page
        assert "评审周期" in page and "监管台账" in page  # the Chinese interface, compiled and chosen
        status, _path, page = browser.request("/staff/cycles")
        assert status == 200 and "评审周期" in page
        _wait(lambda: " ready." in worker_log.read_text(), processes, logs, "the worker did not connect to Redis")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
