"""Scoresheets as data (DESIGN §7.4): one definition per review kind, versioned, frozen into each cycle.

A cycle keeps the definition it opened with, so a later change to the questions never alters what a running
cycle's experts answer or how their answers are checked. The rules here are pure: the service maps answers to
columns, and the page renders the fields in the definition's order.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from workflows.money import MoneyError, parse_yuan


class Kind(StrEnum):
    YES_NO = "yes_no"
    CHOICE = "choice"
    CODE = "code"
    MONEY = "money"
    TEXT = "text"


@dataclass(frozen=True)
class Question:
    name: str
    kind: Kind
    required: bool = True
    when: tuple[str, str] | None = None
    """Asked (and then required) only when another answer has this value, e.g. ("principal_dx_correct", "no")."""
    unless_all: tuple[tuple[str, str], ...] = ()
    """Required unless every listed answer has its value: the rationale is needed whenever the hospital's claim
    is not upheld in full."""
    when_positive: str | None = None
    """Required when this money answer is above zero (the reasons for a deduction)."""
    min_length: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind.value, "required": self.required,
                "when": list(self.when) if self.when else None, "unless_all": [list(p) for p in self.unless_all],
                "when_positive": self.when_positive, "min_length": self.min_length}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Question:
        return cls(name=data["name"], kind=Kind(data["kind"]), required=data["required"],
                   when=tuple(data["when"]) if data.get("when") else None,  # type: ignore[arg-type]
                   unless_all=tuple(tuple(p) for p in data.get("unless_all", ())),  # type: ignore[misc]
                   when_positive=data.get("when_positive"), min_length=data.get("min_length", 0))


@dataclass(frozen=True)
class Definition:
    kind: str
    version: int
    questions: tuple[Question, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": self.version, "questions": [q.as_dict() for q in self.questions]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Definition:
        return cls(kind=data["kind"], version=data["version"],
                   questions=tuple(Question.from_dict(q) for q in data["questions"]))

    def asked(self, answers: Mapping[str, str]) -> list[Question]:
        """The questions that apply given the answers so far (a corrected code only after a "no")."""
        return [q for q in self.questions if q.when is None or answers.get(q.when[0], "") == q.when[1]]


RATIONALE_MIN = 10

APPLICATION = Definition("application", 1, (
    Question("admission_justified", Kind.YES_NO),
    Question("medically_necessary", Kind.YES_NO),
    Question("unreasonable_cost", Kind.MONEY),
    Question("cost_reasons", Kind.TEXT, when_positive="unreasonable_cost", min_length=5),
    Question("recommendation", Kind.CHOICE),
    Question("rationale", Kind.TEXT, unless_all=(("recommendation", "approve"),), min_length=RATIONALE_MIN),
))

SAMPLED_RECORD = Definition("sampled_record", 1, (
    Question("admission_justified", Kind.YES_NO),
    Question("principal_dx_correct", Kind.YES_NO),
    Question("corrected_principal_dx", Kind.CODE, when=("principal_dx_correct", "no")),
    Question("principal_procedure_correct", Kind.YES_NO),
    Question("corrected_principal_procedure", Kind.CODE, when=("principal_procedure_correct", "no")),
    Question("secondary_supported", Kind.YES_NO),
    Question("rationale", Kind.TEXT, unless_all=(("admission_justified", "yes"), ("principal_dx_correct", "yes"),
                                                 ("principal_procedure_correct", "yes"),
                                                 ("secondary_supported", "yes")), min_length=RATIONALE_MIN),
))

CURRENT = {d.kind: d for d in (APPLICATION, SAMPLED_RECORD)}


def snapshot() -> dict[str, Any]:
    """What a new cycle freezes."""
    return {kind: definition.as_dict() for kind, definition in CURRENT.items()}


def for_cycle(frozen: Mapping[str, Any] | None, kind: str) -> Definition:
    """The cycle's own definition; cycles opened before definitions were frozen use version 1."""
    if frozen and kind in frozen:
        return Definition.from_dict(frozen[kind])
    return CURRENT[kind]


class Problem(StrEnum):
    """Why an answer is refused; the service turns each into a translated message."""

    REQUIRED = "required"
    TOO_SHORT = "too_short"
    NOT_YES_NO = "not_yes_no"


def _positive(text: str) -> bool:
    try:
        return parse_yuan(text) > 0
    except MoneyError:
        return False  # the amount's own check reports it


def _needed(question: Question, answers: Mapping[str, str]) -> bool:
    if question.unless_all:
        return not all(answers.get(name, "") == value for name, value in question.unless_all)
    if question.when_positive:
        return _positive(answers.get(question.when_positive, ""))
    return question.required


def check(definition: Definition, answers: Mapping[str, str]) -> dict[str, Problem]:
    """Field → problem for a submission (drafts are not checked): required and conditional answers present,
    yes/no answers valid, texts long enough. Amounts and codes are checked by the service (money, code editor)."""
    problems: dict[str, Problem] = {}
    for question in definition.asked(answers):
        value = (answers.get(question.name) or "").strip()
        needed = _needed(question, answers)
        if not value:
            if needed:
                problems[question.name] = Problem.REQUIRED
        elif question.kind is Kind.YES_NO and value not in ("yes", "no"):
            problems[question.name] = Problem.NOT_YES_NO
        elif question.kind is Kind.TEXT and needed and len(value) < question.min_length:
            problems[question.name] = Problem.TOO_SHORT
    return problems
