"""An expert's scoresheet: save drafts, submit once, and propose the decision when the panel is complete.

A special-case application is approved or rejected with an unreasonable-cost deduction; a sampled record is
checked for the admission and the principal codes, and a correction is regrouped so the decision carries the
DRG and payment the panel's coding leads to. When the panel's codes split with no majority, the chair rules.
"""
from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.exc import StaleDataError

from review.extensions import db
from review.models import Appeal, Assignment, Decision, ReviewItem, Scoresheet, User
from review.models.decision import next_version
from review.models.types import utcnow
from review.services import activity
from review.services.context import HIDDEN, SYSTEM, Actor, NotFound, ServiceError, ValidationFailed
from review.services.items import move, move_appeal
from review.services.notifications import notify
from review.services.regrouping import coded, regroup
from workflows.consensus import (NeedsChair, Outcome, Recommendation, RecordVote, Vote, propose,
                                 propose_record_review)
from workflows.grouping import normalise_code
from workflows.payment import PaymentMethod, record_review_adjustment_fen, supplement_fen
from workflows.scoresheets import Definition, Problem, check, for_cycle
from workflows.states import Action, AppealAction, ItemKind, Role, State

OPEN_FOR_ROUND = {1: (State.ASSIGNED, State.IN_REVIEW), 2: (State.IN_APPEAL_REVIEW,)}
"""When each round's experts may write: the first panel until it proposes, the appeal panel during the appeal."""


def current_round(item: ReviewItem) -> int:
    """The round whose sheets count now: 2 once an appeal panel sits, else 1."""
    return 2 if State(item.state) in (State.IN_APPEAL_REVIEW, State.APPEAL_PROPOSED) else 1


def review_due(seats: Sequence[Assignment]) -> dict[int, date]:
    """Each seat's last day for its sheet, by assignment id: the cycle's review deadline for a first panel, the
    appeal's own (fixed when its panel was seated) for an appeal panel. One query for a page of seats."""
    appealed = {seat.item_id for seat in seats if seat.round == 2}
    appeal_due: dict[int, date] = {item_id: due for item_id, due in db.session.execute(db.select(
        Appeal.item_id, Appeal.review_due_on).where(Appeal.item_id.in_(appealed), Appeal.review_due_on.is_not(None)))
    } if appealed else {}
    return {seat.id: (appeal_due.get(seat.item_id) if seat.round == 2 else None) or seat.item.cycle.review_deadline
            for seat in seats}


@dataclass(frozen=True)
class SheetInput:
    recommendation: str | None
    unreasonable_cost_fen: int
    rationale: str
    lock_version: int
    admission_justified: bool | None = True
    corrected_principal_dx: str = ""
    corrected_principal_procedure: str = ""
    medically_necessary: bool | None = True
    cost_reasons: str = ""
    secondary_supported: bool | None = True
    principal_dx_correct: bool | None = None
    principal_procedure_correct: bool | None = None
    """Yes/no answers; None is a question left unanswered (a typed replacement code implies "no")."""


def get_assignment(actor: Actor, assignment_id: int) -> Assignment:
    """Experts reach only their own active assignments."""
    actor.require(Role.EXPERT)
    assignment = db.session.scalars(db.select(Assignment).where(
        Assignment.id == assignment_id, Assignment.expert_id == actor.expert_id,
        Assignment.status == "active")).first()
    if assignment is None:
        raise NotFound(HIDDEN)
    return assignment


def definition_for(item: ReviewItem) -> Definition:
    """The scoresheet the item's cycle froze for its kind."""
    return for_cycle(item.cycle.policy.scoresheets, item.kind)


def _yes(value: bool | None) -> str:
    return "" if value is None else "yes" if value else "no"


def _answers(data: SheetInput) -> dict[str, str]:
    """The answers keyed by the definition's question names, as the cycle's scoresheet rules check them."""
    return {
        "admission_justified": _yes(data.admission_justified), "medically_necessary": _yes(data.medically_necessary),
        "unreasonable_cost": f"{data.unreasonable_cost_fen / 100:.2f}", "cost_reasons": data.cost_reasons.strip(),
        "recommendation": data.recommendation or "", "rationale": data.rationale.strip(),
        "principal_dx_correct": _yes(data.principal_dx_correct),
        "corrected_principal_dx": data.corrected_principal_dx,
        "principal_procedure_correct": _yes(data.principal_procedure_correct),
        "corrected_principal_procedure": data.corrected_principal_procedure,
        "secondary_supported": _yes(data.secondary_supported),
    }


def _problem_message(name: str, problem: Problem) -> str:
    if name == "rationale":
        return str(_l("A rationale of at least 10 characters is required when not approving."))
    if name == "cost_reasons":
        return str(_l("Give the reasons for the deduction (at least 5 characters)."))
    if name.startswith("corrected_"):
        return str(_l("Enter the correct code."))
    if problem is Problem.NOT_YES_NO:
        return str(_l("Answer yes or no."))
    return str(_l("Answer this question."))


def _validate(definition: Definition, data: SheetInput, item: ReviewItem) -> None:
    """The cycle's scoresheet rules, then what only the service can check: amounts and codes."""
    errors = {name: [_problem_message(name, problem)]
              for name, problem in check(definition, _answers(data)).items()}
    if item.kind == ItemKind.APPLICATION.value:
        if data.recommendation and data.recommendation not in {r.value for r in Recommendation}:
            errors["recommendation"] = [str(_l("Choose approve or reject."))]
        if data.unreasonable_cost_fen < 0:
            errors["unreasonable_cost"] = [str(_l("The unreasonable cost cannot be negative."))]
        elif data.unreasonable_cost_fen > item.case.total_cost_fen:
            errors["unreasonable_cost"] = [str(_l("The unreasonable cost cannot exceed the case's total cost."))]
    elif not errors and (data.corrected_principal_dx or data.corrected_principal_procedure):
        try:
            regroup(item.case, item.cycle, data.corrected_principal_dx or None,
                    data.corrected_principal_procedure or None)
        except ValidationFailed as failure:
            errors.update(failure.errors)
    if errors:
        raise ValidationFailed(errors)


def _correction(correct: bool | None, typed: str, own: str | None) -> tuple[bool | None, str]:
    """(is the hospital's code right, the replacement): a code equal to the hospital's is no correction, a code
    marked right drops whatever replacement was typed, and a replacement typed without an answer means "no"."""
    code = normalise_code(typed) if typed.strip() else ""
    if code == own:
        return True, ""
    if correct is True:
        return True, ""
    return (False, code) if code else (correct, "")


def _record_input(data: SheetInput, item: ReviewItem) -> SheetInput:
    """Normalised findings; the recommendation says whether the hospital's claim is upheld in full."""
    hospital = coded(item.case)
    dx_ok, dx = _correction(data.principal_dx_correct, data.corrected_principal_dx, hospital["principal_dx"])
    proc_ok, proc = _correction(data.principal_procedure_correct, data.corrected_principal_procedure,
                                hospital["principal_procedure"])
    upheld = all(answer is not False for answer in (data.admission_justified, dx_ok, proc_ok,
                                                     data.secondary_supported))
    return replace(data, recommendation=(Recommendation.APPROVE if upheld else Recommendation.REJECT).value,
                   unreasonable_cost_fen=0, corrected_principal_dx=dx, corrected_principal_procedure=proc,
                   principal_dx_correct=dx_ok, principal_procedure_correct=proc_ok)


def save_sheet(actor: Actor, assignment_id: int, data: SheetInput, *, submit: bool) -> Scoresheet:
    """Save (draft) or submit; a save based on an older version is refused rather than overwriting."""
    assignment = get_assignment(actor, assignment_id)
    item = db.session.scalars(db.select(ReviewItem).where(ReviewItem.id == assignment.item_id)
                              .with_for_update()).one()
    if State(item.state) not in OPEN_FOR_ROUND[assignment.round]:
        raise ServiceError(_l("This item is no longer open for review."))
    sheet = assignment.scoresheet
    if sheet is not None and sheet.status == "submitted":
        raise ServiceError(_l("You have already submitted this scoresheet; it is locked."))
    if sheet is not None and sheet.lock_version != data.lock_version:
        raise ServiceError(_l("This scoresheet was changed in another window since you opened it. "
                              "Reload the page to see the latest version; your changes were not saved."))
    definition = definition_for(item)
    if item.kind == ItemKind.SAMPLED_RECORD.value:
        data = _record_input(data, item)
    if submit:
        _validate(definition, data, item)
    if sheet is None:  # only once the input is known to be acceptable: a refusal leaves nothing pending
        sheet = Scoresheet(assignment_id=assignment.id)
        db.session.add(sheet)
    if State(item.state) == State.ASSIGNED:
        move(item, Action.START_REVIEW, actor)
    sheet.recommendation = data.recommendation or None
    sheet.unreasonable_cost_fen = max(0, data.unreasonable_cost_fen)
    sheet.rationale = data.rationale.strip()
    sheet.admission_justified = data.admission_justified is not False
    sheet.corrected_principal_dx = data.corrected_principal_dx or None
    sheet.corrected_principal_procedure = data.corrected_principal_procedure or None
    answers = _answers(data)
    sheet.answers = {q.name: answers[q.name] for q in definition.asked(answers) if answers.get(q.name)}
    sheet.definition_version = definition.version
    if submit:
        sheet.status = "submitted"
        sheet.submitted_at = utcnow()
    try:
        db.session.flush()
    except StaleDataError as error:
        db.session.rollback()
        raise ServiceError(_l("This scoresheet was changed in another window; reload the page.")) from error
    activity.record(actor, "scoresheet.submitted" if submit else "scoresheet.saved", "scoresheet", sheet.id,
                    None, {"item_id": item.id})
    if submit:
        _propose_if_complete(item)
    db.session.commit()
    return sheet


def _submitted_sheets(item: ReviewItem) -> list[Scoresheet]:
    """The current round's submitted sheets: an appeal panel's majority never counts the first panel's votes."""
    return list(db.session.scalars(db.select(Scoresheet).join(Assignment).where(
        Assignment.item_id == item.id, Assignment.status == "active", Assignment.round == current_round(item),
        Scoresheet.status == "submitted")))


def _new_decision(item: ReviewItem, **values: object) -> Decision:
    case = item.case
    version = next_version(item.id)
    appeal = current_round(item) == 2
    decision = Decision(item_id=item.id, version=version, panel_size=item.cycle.policy.panel_size,
                        basis="appeal" if appeal else "panel",
                        drg=case.drg, drg_payment_fen=case.drg_payment_fen, total_cost_fen=case.total_cost_fen,
                        verification_code=secrets.token_hex(8).upper(), **values)
    db.session.add(decision)
    db.session.flush()
    move(item, Action.PROPOSE_APPEAL if appeal else Action.PROPOSE, SYSTEM,
         {"decision_id": decision.id, "outcome": decision.outcome, "amount_fen": decision.amount_fen})
    if appeal:
        move_appeal(db.session.scalars(db.select(Appeal).where(Appeal.item_id == item.id,
                                                               Appeal.state == "in_review")).one(),
                    AppealAction.PROPOSE, SYSTEM)
    return decision


def _propose_if_complete(item: ReviewItem, rulings: dict[str, str | None] | None = None) -> Decision | None:
    sheets = _submitted_sheets(item)
    policy = item.cycle.policy
    k = policy.panel_size
    if len(sheets) < k:
        return None
    if item.kind == ItemKind.SAMPLED_RECORD.value:
        return _propose_record(item, sheets, k, rulings)
    proposal = propose([Vote(expert_id=s.assignment.expert_id, recommendation=Recommendation(s.recommendation),
                             unreasonable_cost_fen=s.unreasonable_cost_fen) for s in sheets], k)
    case = item.case
    amount = 0
    if proposal.outcome != Outcome.REJECTED:
        amount = supplement_fen(PaymentMethod(policy.payment_method), case.total_cost_fen,
                                proposal.deduction_fen, case.drg_payment_fen, policy.fixed_loss_threshold_fen)
    return _new_decision(item, outcome=proposal.outcome.value, approvals=proposal.approvals,
                         deduction_fen=proposal.deduction_fen, amount_fen=amount, vote_snapshot=proposal.snapshot())


def _propose_record(item: ReviewItem, sheets: list[Scoresheet], k: int,
                    rulings: dict[str, str | None] | None) -> Decision | None:
    votes = [RecordVote(expert_id=s.assignment.expert_id, admission_justified=s.admission_justified,
                        principal_dx=s.corrected_principal_dx, principal_procedure=s.corrected_principal_procedure)
             for s in sheets]
    try:
        proposal = propose_record_review(votes, k, coded(item.case), rulings)
    except NeedsChair as needs:
        chair = _chair(item)
        activity.record(SYSTEM, "decision.awaiting_chair", "review_item", item.id, None,
                        {"fields": sorted(needs.options)}, region_id=item.cycle.region_id)
        user_id = db.session.scalar(db.select(User.id).where(User.expert_id == chair.expert_id))
        if user_id:
            notify(kind="chair_ruling", dedupe_key=f"chair-ruling:{item.id}", user_id=user_id, item=item.id)
        return None
    case = item.case
    dx, proc = proposal.findings["principal_dx"].after, proposal.findings["principal_procedure"].after
    after = regroup(case, item.cycle, dx, proc)
    amount = record_review_adjustment_fen(case.drg_payment_fen, after.payment_fen, proposal.admission_justified)
    return _new_decision(item, outcome=proposal.outcome.value, approvals=proposal.justified_votes, deduction_fen=0,
                         amount_fen=amount, drg_after=after.drg, drg_weight_after=str(after.weight),
                         drg_payment_after_fen=after.payment_fen, admission_justified=proposal.admission_justified,
                         coding={name: f.as_dict() for name, f in proposal.findings.items()},
                         vote_snapshot=proposal.snapshot())


def _chair(item: ReviewItem) -> Assignment:
    """The panel chair is the active expert first drawn (lowest rank); replacements come after."""
    round_ = current_round(item)
    return min((a for a in item.assignments if a.status == "active" and a.round == round_), key=lambda a: a.rank)


def chair_question(actor: Actor, assignment_id: int) -> dict[str, list[str | None]] | None:
    """The codes the chair must choose among, when this expert chairs an item whose panel split; else None."""
    assignment = get_assignment(actor, assignment_id)
    item = assignment.item
    if (item.kind != ItemKind.SAMPLED_RECORD.value or State(item.state) not in (State.IN_REVIEW,
                                                                                 State.IN_APPEAL_REVIEW)
            or _chair(item).id != assignment.id):
        return None
    sheets = _submitted_sheets(item)
    k = item.cycle.policy.panel_size
    if len(sheets) < k:
        return None
    try:
        propose_record_review([RecordVote(s.assignment.expert_id, s.admission_justified, s.corrected_principal_dx,
                                          s.corrected_principal_procedure) for s in sheets], k, coded(item.case))
    except NeedsChair as needs:
        return needs.options
    return None


def adjudicate(actor: Actor, assignment_id: int, rulings: dict[str, str | None]) -> Decision:
    """The chair's ruling on the codes without a majority; the decision is proposed at once."""
    options = chair_question(actor, assignment_id)
    if options is None:
        raise ServiceError(_l("There is no coding question for you to rule on."))
    errors = {name: [str(_l("Choose one of the codes the panel proposed."))]
              for name in options if rulings.get(name, "\0") not in options[name]}
    if errors:
        raise ValidationFailed(errors)
    assignment = get_assignment(actor, assignment_id)
    item = db.session.scalars(db.select(ReviewItem).where(ReviewItem.id == assignment.item_id)
                              .with_for_update()).one()
    activity.record(actor, "decision.chair_ruled", "review_item", item.id, None,
                    {name: rulings[name] for name in options}, region_id=item.cycle.region_id)
    decision = _propose_if_complete(item, {name: rulings[name] for name in options})
    assert decision is not None
    db.session.commit()
    return decision


@dataclass(frozen=True)
class Preview:
    """What an expert's corrected codes would do to the case, shown beside the form as they type."""

    drg: str
    weight: str
    payment_fen: int
    paid_fen: int
    description: str

    @property
    def difference_fen(self) -> int:
        return self.payment_fen - self.paid_fen


def preview_regroup(actor: Actor, assignment_id: int, principal_dx: str, principal_procedure: str) -> Preview:
    """Regroup the expert's own record-review item with the typed codes; ValidationFailed names a bad code."""
    assignment = get_assignment(actor, assignment_id)
    item = assignment.item
    if item.kind != ItemKind.SAMPLED_RECORD.value:
        raise ServiceError(_l("Only record reviews take corrected codes."))
    result = regroup(item.case, item.cycle, principal_dx.strip() or None, principal_procedure.strip() or None)
    return Preview(drg=result.drg, weight=str(result.weight), payment_fen=result.payment_fen,
                   paid_fen=item.case.drg_payment_fen, description=result.description)
