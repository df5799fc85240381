"""Who signs a region's letters and on what legal basis: the letterhead an administrator edits, with defaults.

A region that has no letterhead yet still gets a letter a bureau could sign: the bureau is named after the region
(测试统筹区 → 测试统筹区医疗保障局) and the 文号 prefix after its code. Nothing here is read from the letter's
pooling-area name at print time once a letterhead is saved.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite

from review.extensions import db
from review.models import LetterCounter, Letterhead, Region
from review.services import activity
from review.services.context import Actor, NotFound, ValidationFailed
from workflows.states import Role

BUREAU_SUFFIX_ZH = "医疗保障局"
BUREAU_SUFFIX_EN = " Medical Insurance Bureau"
ISSUER_SUFFIX_ZH = "医保审"
ISSUER_SUFFIX_EN = "-MIB-R"
SERIES_MARKS = {"decision": ("", ""), "statement": ("结", "-S")}
"""What a series adds to the issuer's prefix: a statement is 测医保审结〔2026〕3号 beside the letters' 测医保审〔2026〕12号,
each series numbered on its own from 1."""
MAX_DOCUMENTS = 40
"""Legal-basis documents on one letterhead: far above any bureau's list, low enough to keep a letter readable."""


@dataclass(frozen=True)
class LetterheadValues:
    """A letterhead as shown and as edited; `legal_basis_*` are one document name per line."""

    issuer_code_zh: str
    issuer_code_en: str
    bureau_name_zh: str
    bureau_name_en: str
    legal_basis_zh: str = ""
    legal_basis_en: str = ""
    address_zh: str = ""
    address_en: str = ""
    contact: str = ""

    def documents(self, zh: bool) -> list[str]:
        """The legal-basis document names, blank lines and stray 《》 dropped (the letter adds its own)."""
        text = self.legal_basis_zh if zh else self.legal_basis_en
        return [line.strip().strip("《》").strip() for line in text.splitlines() if line.strip().strip("《》").strip()]


REQUIRED = ("issuer_code_zh", "issuer_code_en", "bureau_name_zh", "bureau_name_en")
LIMITS = {"issuer_code_zh": 40, "issuer_code_en": 40, "bureau_name_zh": 200, "bureau_name_en": 200,
          "address_zh": 300, "address_en": 300, "contact": 200}


def defaults(region: Region) -> LetterheadValues:
    return LetterheadValues(issuer_code_zh=region.name_zh + ISSUER_SUFFIX_ZH,
                            issuer_code_en=region.code + ISSUER_SUFFIX_EN,
                            bureau_name_zh=region.name_zh + BUREAU_SUFFIX_ZH,
                            bureau_name_en=region.name_en + BUREAU_SUFFIX_EN)


def reference(values: LetterheadValues, year: int, number: int, series: str) -> tuple[str, str]:
    """The 文号 in Chinese (测医保审〔2026〕12号) and its English mirror (T01-MIB-R [2026] No. 12)."""
    zh, en = SERIES_MARKS[series]
    return (f"{values.issuer_code_zh}{zh}〔{year}〕{number}号", f"{values.issuer_code_en}{en} [{year}] No. {number}")


def next_number(region_id: int, year: int, series: str) -> int:
    """The next 文号 sequence number of (region, year, series), from the counter row, in the caller's transaction.

    The row is created if missing (ON CONFLICT DO NOTHING: two first issuers of a year create it once), then
    raised by a relative UPDATE … RETURNING, which locks it like SELECT … FOR UPDATE until the issue commits
    or rolls back: a concurrent issuer waits and reads the committed number, and a rolled-back issue takes its
    number back with it, so the numbers of a year run 1, 2, 3 … without a gap or a repeat.
    """
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    db.session.execute(insert(LetterCounter).values(region_id=region_id, year=year, series=series, last_number=0)
                       .on_conflict_do_nothing(index_elements=["region_id", "year", "series"]))
    return int(db.session.execute(
        db.update(LetterCounter).where(LetterCounter.region_id == region_id, LetterCounter.year == year,
                                       LetterCounter.series == series)
        .values(last_number=LetterCounter.last_number + 1).returning(LetterCounter.last_number)).scalar_one())


def letterhead_for(region: Region) -> LetterheadValues:
    """The region's saved letterhead, or the defaults when an administrator has not saved one yet."""
    row = db.session.scalars(db.select(Letterhead).where(Letterhead.region_id == region.id)).first()
    if row is None:
        return defaults(region)
    return LetterheadValues(**{f.name: getattr(row, f.name) for f in fields(LetterheadValues)})


def _validate(values: LetterheadValues) -> None:
    errors: dict[str, list[str]] = {}
    for name in REQUIRED:
        if not getattr(values, name).strip():
            errors[name] = [str(_l("This field is required."))]
    for name, limit in LIMITS.items():
        if len(getattr(values, name)) > limit:
            errors.setdefault(name, []).append(str(_l("At most %(n)s characters.", n=limit)))
    for name, zh in (("legal_basis_zh", True), ("legal_basis_en", False)):
        if len(values.documents(zh)) > MAX_DOCUMENTS:
            errors[name] = [str(_l("At most %(n)s documents, one per line.", n=MAX_DOCUMENTS))]
    if errors:
        raise ValidationFailed(errors)


def save(actor: Actor, region_id: int, values: LetterheadValues) -> Letterhead:
    """Administrators only. Letters already issued keep the 文号 they were given; the bureau's name and legal basis
    print on every letter rendered from now on (stored letters are never rendered again)."""
    actor.require(Role.ADMIN)
    region = db.session.get(Region, region_id)
    if region is None:
        raise NotFound(_l("No such region."))
    values = LetterheadValues(**{f.name: getattr(values, f.name).strip() for f in fields(LetterheadValues)})
    _validate(values)
    row = db.session.scalars(db.select(Letterhead).where(Letterhead.region_id == region.id)).first()
    before = None if row is None else {f.name: getattr(row, f.name) for f in fields(LetterheadValues)}
    if row is None:
        row = Letterhead(region_id=region.id)
        db.session.add(row)
    for f in fields(LetterheadValues):
        setattr(row, f.name, getattr(values, f.name))
    row.updated_by_id = actor.user_id
    db.session.flush()
    after = {f.name: getattr(row, f.name) for f in fields(LetterheadValues)}
    activity.record(actor, "letterhead.saved", "letterhead", row.id, None,
                    {"region_id": region.id, "changed": {k: v for k, v in after.items()
                                                         if before is None or before[k] != v}}, region_id=region.id)
    db.session.commit()
    return row
