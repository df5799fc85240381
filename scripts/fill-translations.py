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
        key = message.id if isinstance(message.id, str) else message.id[0]  # plurals: keyed by the singular
        empty = not all(message.string) if isinstance(message.string, tuple) else not message.string
        if key and empty and key in translations:
            # Chinese has one plural form, so a plural entry takes the one translation
            message.string = (translations[key],) if isinstance(message.id, tuple) else translations[key]
            filled += 1
    with open(CATALOGUE, "wb") as handle:
        write_po(handle, catalogue, width=100)
    missing = [m.id for m in catalogue if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string)]
    print(f"filled {filled}; still untranslated: {len(missing)}")
    for msgid in missing:
        print(f"  {msgid!r}")


if __name__ == "__main__":
    main(sys.argv[1])
