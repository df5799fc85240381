"""Patient identity hidden in free text: the case number and resident identity card numbers.

Hospitals name evidence files after the case ("ZY2026-0815 张三 出院小结.pdf") and sometimes write the case number
or the patient's identity card number into the reason for an application. Experts must judge the record, not the
patient, so the shell warns the hospital when it types one, and masks what is found before an expert reads the
reason. Identity card numbers are recognised by their shape and their GB 11643-1999 check digit, and a 15-digit
first-generation number by its birth date, so invoice or order numbers of the same length are rarely taken for one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from workflows.problems import Problem

_ID18 = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx])(?![0-9A-Za-z])")
_ID15 = re.compile(r"(?<![0-9A-Za-z])(\d{15})(?![0-9A-Za-z])")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
MIN_CASE_NO = 4
"""A case number shorter than this is too common a string to look for."""

CASE_NUMBER, ID_CARD = "case_number", "id_card"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str  # CASE_NUMBER | ID_CARD


def _born(text: str) -> bool:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])) >= date(1880, 1, 1)
    except ValueError:
        return False


def is_id_card(number: str) -> bool:
    """An 18-digit number with a valid birth date and check digit, or a 15-digit one with a valid birth date."""
    if len(number) == 15 and number.isdigit():
        return _born("19" + number[6:12])
    if len(number) != 18 or not number[:17].isdigit() or not _born(number[6:14]):
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _WEIGHTS))
    return _CHECK[total % 11] == number[17].upper()


def find(text: str, case_no: str | None = None) -> list[Span]:
    """Where the text carries the case number (case-insensitive) or an identity card number, in text order."""
    spans: list[Span] = []
    if case_no and len(case_no.strip()) >= MIN_CASE_NO:
        needle = re.escape(case_no.strip())
        spans += [Span(m.start(), m.end(), CASE_NUMBER) for m in re.finditer(needle, text, re.IGNORECASE)]
    for pattern in (_ID18, _ID15):
        spans += [Span(m.start(1), m.end(1), ID_CARD) for m in pattern.finditer(text) if is_id_card(m.group(1))]
    spans.sort(key=lambda span: (span.start, -span.end))
    merged: list[Span] = []
    for span in spans:  # a case number that is itself an id-shaped number is found twice: keep one
        if merged and span.start < merged[-1].end:
            continue
        merged.append(span)
    return merged


def warnings(field: str, text: str, case_no: str | None = None) -> list[Problem]:
    """One problem per kind of identity found in a field the hospital filled ("filename" or "reason")."""
    kinds = {span.kind for span in find(text, case_no)}
    problems = []
    if CASE_NUMBER in kinds:
        problems.append(Problem("identity.case_number", field=field))
    if ID_CARD in kinds:
        problems.append(Problem("identity.id_card", field=field))
    return problems


def mask(text: str, spans: list[Span], placeholder: dict[str, str]) -> str:
    """The text with every span replaced by the placeholder of its kind (worded by the shell)."""
    pieces, cursor = [], 0
    for span in spans:
        pieces += [text[cursor:span.start], placeholder[span.kind]]
        cursor = span.end
    return "".join(pieces) + text[cursor:]
