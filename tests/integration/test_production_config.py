"""The production configuration speaks Chinese: the translations are built (not committed) and found at run time."""
from __future__ import annotations

from pathlib import Path

import pytest

from review import create_app
from review.extensions import db
from tests.conftest import REDIS_URL


def test_production_configuration_serves_a_chinese_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "production-test")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://ybj.example.gov.cn")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'production.sqlite'}")
    monkeypatch.setenv("REDIS_URL", REDIS_URL or "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("REGISTER_HMAC_KEY", "production-test-register-key-32chars")
    monkeypatch.setenv("REGISTER_ANCHOR_KEY", "production-test-anchor-key-32chars!")
    app = create_app("production")
    assert not app.config.get("TESTING")
    with app.app_context():
        db.create_all()
    page = app.test_client().get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"},
                                 base_url="https://review.example")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<html lang="zh' in text and "用户名" in text and "密码" in text
    with app.app_context():
        db.engine.dispose()
