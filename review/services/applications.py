"""A hospital's special-case Application: create, submit, and screen against the cycle's frozen policy.

One application or hundreds from an import go through the same checks: the cycle covering the discharge,
the application window, one application per case and cycle, and the quota (a share of the hospital's DRG
discharges in the cycle, as recorded by the review office).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from review import clock
from review.extensions import db
from review.models import Case, Cycle, CycleVolume, Document, Hospital, Region, ReviewItem
from review.models.types import utcnow
from review.services import activity
from review.services.cases import get_case
from review.services.catalogue import average_cost_fen
from review.services.context import SYSTEM, Actor, ServiceError, ValidationFailed
from review.messages import problem_text
from review.services.items import get_item, move
from workflows.eligibility import CaseFacts, Rule, screen
from workflows.problems import Problem
from workflows.states import Action, ItemKind, Role, State

MIN_REASON_CHARS = 10


@dataclass
class Quota:
    cycle_code: str
    discharges: int | None
    allowed: int
    used: int

    @property
    def left(self) -> int:
        return max(0, self.allowed - self.used)


@dataclass(frozen=True)
class ApplicationRequest:
    row: int
    case_id: int
    category: str
    reason: str


def hospital_today(hospital_id: int | None) -> date:
    """The application window is a range of the region's dates: a hospital applying at 07:00 Beijing time is on
    that day, not on the UTC day before."""
    zone = db.session.scalar(db.select(Region.timezone).join(Hospital, Hospital.region_id == Region.id)
                             .where(Hospital.id == hospital_id))
    return clock.today_in(zone)


def cycle_for(region_id: int, discharge: date) -> Cycle | None:
    return db.session.scalars(db.select(Cycle).where(
        Cycle.region_id == region_id, Cycle.quarter_start <= discharge, Cycle.quarter_end >= discharge)).first()


def quota_for(hospital_id: int, cycle: Cycle) -> Quota:
    discharges = db.session.scalar(db.select(CycleVolume.drg_discharges).where(
        CycleVolume.cycle_id == cycle.id, CycleVolume.hospital_id == hospital_id))
    used = db.session.scalar(db.select(db.func.count(ReviewItem.id)).where(
        ReviewItem.cycle_id == cycle.id, ReviewItem.hospital_id == hospital_id,
        ReviewItem.kind == ItemKind.APPLICATION.value,
        ReviewItem.state.notin_((State.WITHDRAWN.value, State.RETURNED.value)))) or 0
    return Quota(cycle_code=cycle.code, discharges=discharges, allowed=cycle.policy.quota_allowed(discharges), used=used)


@dataclass(frozen=True)
class Check:
    cycle: Cycle | None
    field: str = ""
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def open_quotas(actor: Actor) -> list[Quota]:
    """The hospital's quota in every cycle whose application window is open today, for the screens."""
    actor.require(Role.HOSPITAL)
    today = hospital_today(actor.hospital_id)
    hospital_region = db.select(Hospital.region_id).where(Hospital.id == actor.hospital_id).scalar_subquery()
    cycles = db.session.scalars(db.select(Cycle).where(
        Cycle.region_id == hospital_region, Cycle.status == "open", Cycle.application_opens <= today,
        Cycle.application_closes >= today).order_by(Cycle.quarter_start))
    return [quota_for(actor.hospital_id, cycle) for cycle in cycles]  # type: ignore[arg-type]


def _window_problem(cycle: Cycle, today: date) -> Problem | None:
    if cycle.status == "open" and cycle.application_opens <= today <= cycle.application_closes:
        return None
    return Problem("application.window_closed", cycle=cycle.code, start=cycle.application_opens.isoformat(),
                   end=cycle.application_closes.isoformat())


def _form_problem(category: str, reason: str) -> tuple[str, Problem] | None:
    if category not in {rule.value for rule in Rule}:
        return "category", Problem("application.category_missing")
    if len(reason.strip()) < MIN_REASON_CHARS:
        return "reason", Problem("application.reason_too_short", minimum=MIN_REASON_CHARS)
    return None


def _check(case: Case, category: str, reason: str, today: date, quotas: dict[int, Quota]) -> Check:
    """Whether this application can be made now, or which field is wrong and why (a problem code, worded by the
    reader's catalogue, so an import report keeps reading in its reader's language)."""
    wrong = _form_problem(category, reason)
    if wrong is not None:
        return Check(None, *wrong)
    cycle = cycle_for(case.hospital.region_id, case.discharge_date)
    if cycle is None:
        return Check(None, "discharge_date", Problem("application.no_cycle", date=case.discharge_date.isoformat()))
    closed = _window_problem(cycle, today)
    if closed is not None:
        return Check(cycle, "category", closed)
    if db.session.scalar(db.select(ReviewItem.id).where(
            ReviewItem.case_id == case.id, ReviewItem.cycle_id == cycle.id,
            ReviewItem.kind == ItemKind.APPLICATION.value)) is not None:
        return Check(cycle, "case_no", Problem("application.duplicate", cycle=cycle.code))
    if cycle.id not in quotas:
        quotas[cycle.id] = quota_for(case.hospital_id, cycle)
    full = _quota_problem(quotas[cycle.id], cycle)
    return Check(cycle, "category", full) if full is not None else Check(cycle)


def _quota_problem(quota: Quota, cycle: Cycle) -> Problem | None:
    """No place left (or the quota base unknown); withdrawn and returned applications hold no place."""
    if quota.discharges is None:
        return Problem("application.quota_unknown", cycle=cycle.code)
    if quota.left < 1:
        return Problem("application.quota_used_up", cycle=cycle.code, allowed=quota.allowed, n=quota.discharges,
                       used=quota.used, share=f"{cycle.policy.quota_share * 100:g}%")
    return None


def _create(actor: Actor, case: Case, cycle: Cycle, category: str, reason: str, quotas: dict[int, Quota]) -> ReviewItem:
    item = ReviewItem(kind=ItemKind.APPLICATION.value, case_id=case.id, hospital_id=case.hospital_id,
                      cycle_id=cycle.id, state=State.DRAFT.value, category=category, reason=reason.strip())
    db.session.add(item)
    db.session.flush()
    quotas[cycle.id].used += 1
    activity.record(actor, "item.created", "review_item", item.id, item.hospital_id,
                    {"case_id": case.id, "category": category, "quota_left": quotas[cycle.id].left})
    if not cycle.policy.missing_evidence(category, ()):
        _submit_and_screen(actor, item, cycle)  # the policy asks for no evidence first: screened at once
    return item  # else a draft, holding its quota place, until its evidence is uploaded and it is submitted


def missing_evidence(item: ReviewItem) -> tuple[str, ...]:
    """The evidence kinds the cycle's policy still wants for this item's category, in the policy's order."""
    uploaded = db.session.scalars(db.select(Document.doc_type).where(Document.item_id == item.id).distinct())
    return item.cycle.policy.missing_evidence(item.category or "", uploaded)


def _evidence_problem(item: ReviewItem) -> Problem | None:
    missing = missing_evidence(item)
    return Problem("application.evidence_missing", doc_types=list(missing)) if missing else None


def submit(actor: Actor, item_id: int) -> ReviewItem:
    """A draft goes to screening once the evidence its category needs is uploaded and the window is still open."""
    actor.require(Role.HOSPITAL)
    item = get_item(actor, item_id, for_update=True)
    closed = _window_problem(item.cycle, clock.today_in(item.cycle.region.timezone))
    problem = closed or _evidence_problem(item)
    if problem is not None:
        raise ServiceError(problem_text(problem))
    _submit_and_screen(actor, item, item.cycle)
    db.session.commit()
    return item


def apply_for_case(actor: Actor, case_id: int, category: str, reason: str) -> ReviewItem:
    """Create the Application and submit it at once, as the hospital's form does in one step."""
    actor.require(Role.HOSPITAL)
    case = get_case(actor, case_id)
    quotas: dict[int, Quota] = {}
    check = _check(case, category, reason, hospital_today(actor.hospital_id), quotas)
    if not check.ok:
        if check.field in ("category", "reason"):
            raise ValidationFailed({check.field: [problem_text(check.problem)]})
        raise ServiceError(problem_text(check.problem))
    assert check.cycle is not None
    item = _create(actor, case, check.cycle, category, reason, quotas)
    db.session.commit()
    return item


def plan_many(actor: Actor, requests: list[ApplicationRequest],
              cases: dict[int, Case]) -> tuple[list[ApplicationRequest], dict[int, tuple[str, Problem]]]:
    """Which of many requests can be made (in row order, the quota filling up as it goes) and why not the rest."""
    actor.require(Role.HOSPITAL)
    quotas: dict[int, Quota] = {}
    today = hospital_today(actor.hospital_id)
    accepted: list[ApplicationRequest] = []
    refused: dict[int, tuple[str, Problem]] = {}
    for request in requests:
        case = cases[request.case_id]
        check = _check(case, request.category, request.reason, today, quotas)
        if check.ok:
            assert check.cycle is not None
            quotas[check.cycle.id].used += 1
            accepted.append(request)
        else:
            assert check.problem is not None
            refused[request.row] = (check.field, check.problem)
    return accepted, refused


def create_many(actor: Actor, requests: list[ApplicationRequest], cases: dict[int, Case]) -> list[ReviewItem]:
    """Create planned applications inside the caller's transaction (the caller commits)."""
    quotas: dict[int, Quota] = {}
    items = []
    for request in requests:
        case = cases[request.case_id]
        cycle = cycle_for(case.hospital.region_id, case.discharge_date)
        assert cycle is not None
        if cycle.id not in quotas:
            quotas[cycle.id] = quota_for(case.hospital_id, cycle)
        items.append(_create(actor, case, cycle, request.category, request.reason, quotas))
    return items


def apply_selected(actor: Actor, case_ids: list[int], category: str, reason: str) -> tuple[int, list[tuple[str, str]]]:
    """The selection screen: one category and reason for several of the hospital's own cases."""
    actor.require(Role.HOSPITAL)
    cases = {c.id: c for c in db.session.scalars(db.select(Case).where(
        Case.id.in_(case_ids), Case.hospital_id == actor.hospital_id))}
    requests = [ApplicationRequest(row=case_id, case_id=case_id, category=category, reason=reason)
                for case_id in case_ids if case_id in cases]
    planned, refused = plan_many(actor, requests, cases)
    created = create_many(actor, planned, cases)
    db.session.commit()
    return len(created), [(cases[case_id].case_no, problem_text(problem))
                          for case_id, (_, problem) in sorted(refused.items())]


def resubmit(actor: Actor, item_id: int, category: str, reason: str) -> ReviewItem:
    """A returned application may be corrected and submitted again while the window is open."""
    actor.require(Role.HOSPITAL)
    item = get_item(actor, item_id, for_update=True)
    cycle = item.cycle
    closed = _window_problem(cycle, clock.today_in(cycle.region.timezone))
    if closed is not None:
        raise ServiceError(problem_text(closed))
    wrong = _form_problem(category, reason)
    if wrong is not None:
        raise ValidationFailed({wrong[0]: [problem_text(wrong[1])]})
    full = _quota_problem(quota_for(item.hospital_id, cycle), cycle)  # a returned application gave its place back
    if full is not None:
        raise ServiceError(problem_text(full))
    missing = _evidence_problem(item)
    if missing is not None:
        raise ServiceError(problem_text(missing))
    item.category, item.reason = category, reason.strip()
    _submit_and_screen(actor, item, cycle)
    db.session.commit()
    return item


def override_eligibility(actor: Actor, item_id: int, note: str) -> ReviewItem:
    """Staff send a returned application to the panel anyway; the note and who decided are kept and logged."""
    actor.require(Role.STAFF, Role.ADMIN)
    if len(note.strip()) < MIN_REASON_CHARS:
        raise ValidationFailed({"note": [str(_l("Explain the override (at least 10 characters)."))]})
    item = get_item(actor, item_id, for_update=True)
    move(item, Action.OVERRIDE_ELIGIBILITY, actor, {"note": note.strip()})
    item.screening = {**(item.screening or {}),
                      "override": {"by_user_id": actor.user_id, "note": note.strip(), "at": utcnow().isoformat()}}
    db.session.commit()
    return item


def _submit_and_screen(actor: Actor, item: ReviewItem, cycle: Cycle) -> None:
    move(item, Action.SUBMIT, actor)
    case = item.case
    result = screen(
        CaseFacts(total_cost_fen=case.total_cost_fen, los_days=case.los_days, icu_days=case.icu_days,
                  drg=case.drg, drg_average_cost_fen=average_cost_fen(cycle.region_id, case.drg),
                  category=item.category or "", justification=item.reason or "", drg_weight=Decimal(case.drg_weight),
                  birth_weight_grams=case.birth_weight_grams, procedures=tuple(case.procedures)),
        cycle.policy.thresholds(),
    )
    # Codes and figures, never sentences: the hospital reads the result in its own language (review/messages.py).
    item.screening = {
        "eligible": result.eligible,
        "met_rules": [rule.value for rule in result.met_rules],
        "results": [{"rule": r.rule.value, "met": r.met, "evaluable": r.evaluable, "numbers": r.numbers,
                     "problem": r.problem.to_json()} for r in result.results],
    }
    move(item, Action.SCREEN, SYSTEM, {"eligible": result.eligible})
    move(item, Action.QUEUE if result.eligible else Action.RETURN_INELIGIBLE, SYSTEM,
         {"grounds": [r.problem.to_json() for r in result.grounds]})
