"""Merge translations from a JSON file {msgid: msgstr} into the zh_CN catalogue (maintainer tool).

Usage: python scripts/fill-translations.py TRANSLATIONS.json
Only empty entries are filled; existing translations are never overwritten.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

CATALOGUE = Path(__file__).resolve().parent.parent / "review/translations/zh_CN/LC_MESSAGES/messages.po"


def main(source: str) -> None:
    translations = json.loads(Path(source).read_text(encoding="utf-8"))
    with open(CATALOGUE, "rb") as handle:
        catalogue = read_po(handle)
    filled = 0
    for message in catalogue:
        if message.id and not message.string and message.id in translations:
            message.string = translations[message.id]
            filled += 1
    with open(CATALOGUE, "wb") as handle:
        write_po(handle, catalogue, width=100)
    missing = [m.id for m in catalogue if m.id and not m.string]
    print(f"filled {filled}; still untranslated: {len(missing)}")
    for msgid in missing:
        print(f"  {msgid!r}")


if __name__ == "__main__":
    main(sys.argv[1])
