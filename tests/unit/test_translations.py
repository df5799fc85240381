"""Every string the UI can show has a Simplified Chinese translation, and the catalogue keeps its placeholders."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def _read(path: Path):  # type: ignore[no-untyped-def]
    with open(path, "rb") as handle:
        return read_po(handle)


def _complete(string: str | tuple[str, ...]) -> bool:
    """A plural entry is a tuple of forms; every form must be filled."""
    return all(string) if isinstance(string, tuple) else bool(string)


def test_every_ui_string_is_translated(tmp_path: Path) -> None:
    """Extract exactly as the maintainers do (babel.cfg), so a new untranslated string fails here."""
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l",
                    "-k", "lazy_gettext", "-o", str(pot), "."], cwd=ROOT, check=True, capture_output=True)
    found = {m.id for m in _read(pot) if m.id}
    assert "Submit application" in found and "The case number is required." in found  # both sources scanned
    translated = {m.id for m in _read(ROOT / "review/translations/zh_CN/LC_MESSAGES/messages.po")
                  if m.id and _complete(m.string) and not m.fuzzy}
    assert sorted(found - translated, key=str) == []


def test_translations_keep_placeholders() -> None:
    catalogue = _read(ROOT / "review/translations/zh_CN/LC_MESSAGES/messages.po")
    broken = [m.id for m in catalogue if m.id and _complete(m.string)
              and sorted(PLACEHOLDER.findall(m.id if isinstance(m.id, str) else m.id[0]))
              != sorted(PLACEHOLDER.findall(m.string if isinstance(m.string, str) else m.string[0]))]
    assert broken == []
