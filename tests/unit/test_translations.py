"""Every string the UI can show has a Simplified Chinese translation, and the catalogue keeps its placeholders."""
from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
METHODS = [("review/**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def _catalogue():  # type: ignore[no-untyped-def]
    with open(ROOT / "review/translations/zh_CN/LC_MESSAGES/messages.po", "rb") as handle:
        return read_po(handle)


def test_every_ui_string_is_translated() -> None:
    translated = {m.id for m in _catalogue() if m.id and m.string and not m.fuzzy}
    found = {message[2] for message in extract_from_dir(str(ROOT), METHODS, KEYWORDS)
             if isinstance(message[2], str)}
    assert "Submit application" in found and "The case number is required." in found  # both sources scanned
    assert sorted(found - translated) == []


def test_translations_keep_placeholders() -> None:
    broken = [m.id for m in _catalogue() if m.id and isinstance(m.id, str)
              and sorted(PLACEHOLDER.findall(m.id)) != sorted(PLACEHOLDER.findall(m.string or ""))]
    assert broken == []
