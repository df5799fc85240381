"""Patient identity in the hospital's free text is found and masked (workflows/identity.py)."""
from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from workflows import identity

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id_number(area: int, born: date, serial: int) -> str:
    """An identity card number built by GB 11643 independently of the module: area, birth date, serial, check."""
    body = f"{area:06d}{born:%Y%m%d}{serial:03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS)) % 11]


ids = st.builds(_id_number, st.integers(110000, 659999),
                st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 12, 31)), st.integers(0, 999))
prose = st.text(alphabet=st.characters(blacklist_categories=("Nd", "Cs"), blacklist_characters="Xx"), max_size=40)


@given(before=prose, number=ids, after=prose)
def test_an_identity_number_anywhere_in_prose_is_found_and_masked(before: str, number: str, after: str) -> None:
    text = f"{before} {number} {after}"
    spans = identity.find(text)
    assert [(text[s.start:s.end], s.kind) for s in spans] == [(number, identity.ID_CARD)]
    masked = identity.mask(text, spans, {identity.ID_CARD: "[hidden]", identity.CASE_NUMBER: "[case]"})
    assert number not in masked and masked == f"{before} [hidden] {after}"


@given(number=ids)
def test_a_wrong_check_digit_is_not_an_identity_number(number: str) -> None:
    wrong = number[:17] + next(c for c in "0123456789X" if c != number[17])
    assert identity.find(f"发票号 {wrong}") == []


def test_first_generation_numbers_need_a_real_birth_date() -> None:
    assert identity.is_id_card("110105491231002")  # born 1949-12-31
    assert not identity.is_id_card("110105491331002")  # month 13: an order number, not a person
    assert identity.is_id_card(_id_number(320102, date(1980, 2, 29), 17))
    assert not identity.is_id_card("320102198102290170")  # 29 February 1981 does not exist


def test_the_case_number_is_found_whatever_its_case_and_reported_per_field() -> None:
    text = "Discharge summary of zy2026-0815 (see ZY2026-0815 page 2)"
    spans = identity.find(text, "ZY2026-0815")
    assert [text[s.start:s.end] for s in spans] == ["zy2026-0815", "ZY2026-0815"]
    assert [p.code for p in identity.warnings("filename", text, "ZY2026-0815")] == ["identity.case_number"]
    both = identity.warnings("reason", f"{text} 身份证 {_id_number(110101, date(1970, 5, 1), 1)}", "ZY2026-0815")
    assert [(p.code, p.params["field"]) for p in both] == [("identity.case_number", "reason"),
                                                           ("identity.id_card", "reason")]


def test_a_short_case_number_is_not_looked_for_and_digits_inside_a_longer_number_are_not_an_id() -> None:
    number = _id_number(110101, date(1970, 5, 1), 1)
    assert identity.find("bed 12 ward 12", "12") == []
    assert identity.find(f"9{number}") == [] and identity.find(f"{number}7") == []
