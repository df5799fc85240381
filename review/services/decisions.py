"""Staff confirm a proposed decision after reading its reasons; issuing numbers the letter (文号), posts the
ledger entry and queues the letter.

The reasons are each panel member's vote, recommended DRG and amount and written rationale. Staff read them with
the expert's code and name; a hospital reads the same reasons under "Expert A/B/C" (by panel rank), never a name
or a code. A decision is issued only by someone the register shows opening its reasons
(`decision.reasons_opened`), so no decision leaves the office unread.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import SQLAlchemyError

from review import labels
from review.extensions import db
from review.messages import problem_text
from review.models import (ActivityLog, Appeal, Assignment, Decision, Expert, JournalEntry, ReviewItem)
from review.models.decision import ISSUED_OR_SUPERSEDED
from review.models.types import utcnow
from review.services import activity, holidays, jobs, ledger, letterheads
from review.services.context import HIDDEN, Actor, NotFound, ServiceError, ValidationFailed
from review.services.cycles import region_today
from review.services.items import get_item, move, move_appeal
from review.services.lifecycle import next_state
from review.services.notifications import notify
from review.services.regrouping import coded, regroup
from review.tasks import render_letter
from workflows.ledger import Line, decision_posting, reversal
from workflows.payment import PaymentMethod, record_review_adjustment_fen, supplement_fen
from workflows.problems import Problem
from workflows.states import (Action, AppealAction, DecisionAction, DecisionStatus, ItemKind, Role,
                              decision_transition)

REASONS_OPENED = "decision.reasons_opened"
RECORD_VOTE = {
    "confirmed": _l("Coding confirmed"),
    "corrected": _l("Coding corrected"),
    "unjustified": _l("Admission not justified"),
}
"""A record-review expert's vote in the outcome words of record review (a sheet stores approve/reject)."""


def get_decision(actor: Actor, decision_id: int) -> Decision:
    """Readable by whoever may read the item; hospitals only see issued decisions."""
    decision = db.session.get(Decision, decision_id)
    if decision is None:
        raise NotFound(HIDDEN)
    get_item(actor, decision.item_id)
    if actor.role in (Role.HOSPITAL, Role.EXPERT) and decision.status not in ISSUED_OR_SUPERSEDED:
        raise NotFound(HIDDEN)
    return decision


@dataclass(frozen=True)
class ExpertReason:
    """One panel member's part in a decision. `expert` is None for a hospital reader, who sees `letter` only."""

    letter: str
    expert: Expert | None
    vote: str
    drg: str | None
    """The DRG this expert's findings lead to (record review: after their coding corrections)."""
    amount_fen: int | None
    """The payment adjustment this expert's findings alone would make (None when their coding cannot be grouped)."""
    unreasonable_cost_fen: int | None
    admission_justified: bool | None
    principal_dx: str | None
    principal_procedure: str | None
    rationale: str


@dataclass(frozen=True)
class Reasons:
    decision: Decision
    experts: list[ExpertReason]
    opened: bool
    """Whether the reader has opened these reasons before (the office may then issue)."""


def _letter(index: int) -> str:
    """A, B, C … Z, then AA, AB …: a panel is never that large, but a label must never run out."""
    return chr(65 + index) if index < 26 else _letter(index // 26 - 1) + chr(65 + index % 26)


def _voters(decision: Decision) -> list[Assignment]:
    """The assignments whose sheets the decision counted, in panel rank: the snapshot names its voters, so an
    appeal panel's decision lists the appeal panel, never the first one."""
    voter_ids = [vote.get("expert_id") for vote in (decision.vote_snapshot or {}).get("votes", [])]
    return sorted((a for a in decision.item.assignments if a.expert_id in voter_ids and a.scoresheet is not None),
                  key=lambda a: a.rank)


def _record_reason(decision: Decision, assignment: Assignment) -> tuple[str, str | None, int | None]:
    """(vote words, DRG, adjustment) of one record-review sheet, regrouped with the expert's own corrections."""
    sheet = assignment.scoresheet
    assert sheet is not None
    item, case = decision.item, decision.item.case
    dx, procedure = sheet.corrected_principal_dx, sheet.corrected_principal_procedure
    vote = "unjustified" if not sheet.admission_justified else "corrected" if dx or procedure else "confirmed"
    if not (dx or procedure):
        return str(RECORD_VOTE[vote]), case.drg, record_review_adjustment_fen(
            case.drg_payment_fen, case.drg_payment_fen, sheet.admission_justified)
    try:
        after = regroup(case, item.cycle, dx, procedure)
    except ValidationFailed:
        return str(RECORD_VOTE[vote]), None, None
    return str(RECORD_VOTE[vote]), after.drg, record_review_adjustment_fen(
        case.drg_payment_fen, after.payment_fen, sheet.admission_justified)


def _expert_reason(decision: Decision, index: int, assignment: Assignment, named: bool) -> ExpertReason:
    sheet = assignment.scoresheet
    assert sheet is not None
    case, policy = decision.item.case, decision.item.cycle.policy
    record = decision.item.kind == ItemKind.SAMPLED_RECORD.value
    if record:
        vote, drg, amount = _record_reason(decision, assignment)
    else:
        vote, drg = str(labels.RECOMMENDATION.get(sheet.recommendation or "", sheet.recommendation)), decision.drg
        amount = 0 if sheet.recommendation != "approve" else supplement_fen(
            PaymentMethod(policy.payment_method), case.total_cost_fen, sheet.unreasonable_cost_fen,
            case.drg_payment_fen, policy.fixed_loss_threshold_fen)
    own = coded(case)
    return ExpertReason(
        letter=_letter(index), expert=assignment.expert if named else None, vote=vote, drg=drg, amount_fen=amount,
        unreasonable_cost_fen=None if record else sheet.unreasonable_cost_fen,
        admission_justified=sheet.admission_justified if record else None,
        principal_dx=(sheet.corrected_principal_dx or own["principal_dx"]) if record else None,
        principal_procedure=(sheet.corrected_principal_procedure or own["principal_procedure"]) if record else None,
        rationale=sheet.rationale or "")


def _opened(actor: Actor, decision_id: int) -> bool:
    return db.session.scalar(db.select(ActivityLog.id).where(
        ActivityLog.action == REASONS_OPENED, ActivityLog.object_type == "decision",
        ActivityLog.object_id == decision_id, ActivityLog.actor_id == actor.user_id).limit(1)) is not None


def panel_reasons(actor: Actor, decision: Decision) -> Reasons:
    """The reasons as this reader may see them, without recording anything (the queue's summary, the hospital's
    decision page): named for the office and auditors, Expert A/B/C for everyone else."""
    get_decision(actor, decision.id)
    named = actor.role in (Role.STAFF, Role.ADMIN, Role.AUDITOR)
    experts = [_expert_reason(decision, index, assignment, named)
               for index, assignment in enumerate(_voters(decision))]
    return Reasons(decision=decision, experts=experts, opened=named and _opened(actor, decision.id))


def open_reasons(actor: Actor, decision_id: int) -> Reasons:
    """The office opens a decision's reasons; the first opening by each person is written to the register, and
    it is what `issue` asks for."""
    actor.require(Role.STAFF, Role.ADMIN, Role.AUDITOR)
    decision = get_decision(actor, decision_id)
    reasons = panel_reasons(actor, decision)
    if not reasons.opened:
        activity.record(actor, REASONS_OPENED, "decision", decision.id, decision.item.hospital_id,
                        {"version": decision.version, "experts": len(reasons.experts)})
        db.session.commit()
        reasons = replace(reasons, opened=True)
    return reasons


def issue(actor: Actor, decision_id: int) -> Decision:
    """Issue once, by someone who opened the reasons: the item moves to issued and `publish` does the rest in the
    same transaction. A correction waits for a second member of the office (`corrections.approve`)."""
    actor.require(Role.STAFF, Role.ADMIN)
    decision = locked_decision(decision_id)
    if decision.status == "awaiting_approval":
        raise ServiceError(problem_text(Problem("correction.needs_approval", decision_id=decision.id)))
    if decision.status == "discarded":
        raise ServiceError(_l("This correction was rejected or withdrawn; it cannot be issued."))
    if decision.status != "proposed":
        raise ServiceError(_l("This decision has already been issued."))
    if not _opened(actor, decision.id):
        raise ServiceError(problem_text(Problem("decision.reasons_not_opened", decision_id=decision.id)))
    item = db.session.scalars(db.select(ReviewItem).where(ReviewItem.id == decision.item_id)
                              .with_for_update()).one()
    publish(actor, decision, item, Action.ISSUE)
    db.session.commit()
    return decision


def locked_decision(decision_id: int) -> Decision:
    decision = db.session.scalars(db.select(Decision).where(Decision.id == decision_id).with_for_update()).first()
    if decision is None:
        raise NotFound(_l("No such decision."))
    return decision


def appeal_deadline(item: ReviewItem, decision: Decision, today: date) -> date | None:
    """The last day to appeal, counted in working days of the region's calendar (a year it does not cover
    refuses the issue, worded: a guessed deadline printed on a letter binds the bureau). None when no appeal is
    left: one appeal per item, so the outcome of an appeal, or a correction after one, can only be taken to
    administrative reconsideration or litigation."""
    if decision.basis == "appeal" or db.session.scalar(
            db.select(Appeal.id).where(Appeal.item_id == item.id).limit(1)) is not None:
        return None
    return holidays.working_days_after(item.cycle.region_id, today, item.cycle.policy.appeal_days)


def step_decision(decision: Decision, action: DecisionAction, actor: Actor) -> str:
    """The status `action` takes the version to (assigned by the caller with the fields the CHECKs tie to it)."""
    return next_state(decision_transition, DecisionStatus(decision.status), action, actor.role)


def publish(actor: Actor, decision: Decision, item: ReviewItem, action: Action) -> None:
    """Issue a locked decision on a locked item, in the caller's transaction: the letter gets the next 文号 of the
    region and year, the item moves by `action`, the version it replaces is marked superseded, the ledger posts
    (in one call) the reversal of that version's entry and this version's entry, and the letter job is written,
    so a broker that is down delays the letter but never loses it, and a refused posting leaves no number used."""
    region = item.cycle.region
    today = region_today(region)  # where the bureau is, as the letter prints it, not the UTC date
    deadline = appeal_deadline(item, decision, today)
    number = letterheads.next_number(region.id, today.year, "decision")
    ref_zh, ref_en = letterheads.reference(letterheads.letterhead_for(region), today.year, number, "decision")
    earlier = db.session.scalars(db.select(Decision).where(
        Decision.item_id == item.id, Decision.status == "issued", Decision.id != decision.id)
        .with_for_update()).first()
    decision.status = step_decision(decision, DecisionAction.ISSUE, actor)
    decision.issued_at = utcnow()
    decision.issued_by_id = actor.user_id
    decision.appeal_deadline = deadline
    decision.letter_region_id, decision.letter_year, decision.letter_number = region.id, today.year, number
    decision.letter_ref_zh, decision.letter_ref_en = ref_zh, ref_en
    item.issued_version = decision.version
    move(item, action, actor, {"decision_id": decision.id, "amount_fen": decision.amount_fen,
                               "letter_ref": decision.letter_ref_zh, "version": decision.version})
    postings = []
    if earlier is not None:
        earlier.status = step_decision(earlier, DecisionAction.SUPERSEDE, actor)
        activity.record(actor, "decision.superseded", "decision", earlier.id, item.hospital_id,
                        {"version": earlier.version, "by_decision_id": decision.id, "by_version": decision.version})
        undo = _reversal_of(earlier)
        if undo is not None:
            postings.append(undo)
    plan = decision_posting(decision.id, decision.version, decision.amount_fen, region.code, item.hospital.code)
    if plan is not None:
        postings.append(ledger.Posting(plan, decision.id))
    for posting, entry in zip(postings, ledger.post_many(postings, item.cycle.code, actor.user_id)):
        activity.record(actor, "ledger.posted", "journal_entry", entry.id, item.hospital_id,
                        {"key": posting.plan.idempotency_key,
                         "amount_fen": posting.plan.lines[0].amount_fen})
    if decision.basis == "appeal":
        appeal = db.session.scalars(db.select(Appeal).where(Appeal.item_id == item.id, Appeal.state == "proposed")
                                    .with_for_update()).one()
        move_appeal(appeal, AppealAction.ISSUE, actor)
        appeal.outcome_decision_id = decision.id
        activity.record(actor, "appeal.issued", "appeal", appeal.id, item.hospital_id,
                        {"decision_id": decision.id, "version": decision.version})
        notify(kind="appeal_decided", dedupe_key=f"appeal-decided:{appeal.id}", hospital_id=item.hospital_id,
               item=item.id, cycle=item.cycle.code, version=decision.version)
    jobs.enqueue(render_letter, decision.id, actor=actor)  # committed with the issue, sent after it


def _reversal_of(earlier: Decision) -> ledger.Posting | None:
    """The reversal of the entry an earlier version posted (none when it moved no money)."""
    entry = db.session.scalars(db.select(JournalEntry).where(
        JournalEntry.idempotency_key == f"decision:{earlier.id}:v{earlier.version}")).first()
    if entry is None:
        return None
    return ledger.Posting(reversal(entry.id, [Line(line.account.code, line.amount_fen) for line in entry.lines]),
                          earlier.id, reverses_entry_id=entry.id)


@dataclass(frozen=True)
class Skipped:
    """A decision the bulk issue left alone, and why, so the office can see it rather than find it later."""

    decision_id: int
    reason: str


def issue_many(actor: Actor, decision_ids: Iterable[int], *, cycle_id: int | None = None
               ) -> tuple[list[int], list[Skipped]]:
    """Issue each decision through `issue`, one transaction each, and report (issued ids, skipped).

    One transaction per decision because issuing is money: a decision whose posting is refused (a closed period,
    a conflicting ledger entry, a database error) must not undo the ten issued before it, nor stop the ten after
    it. A decision already issued (by a colleague, or by a double click) is skipped and reported; `issue` refuses
    it under a row lock and the ledger key `decision:{id}:v{n}` is unique, so nothing is ever posted twice.
    With `cycle_id`, a decision of another cycle is skipped: a form of one cycle's queue cannot reach another.
    The role is checked once up front, so a refused actor gets one refusal rather than a list of skipped rows.
    """
    actor.require(Role.STAFF, Role.ADMIN)
    issued: list[int] = []
    skipped: list[Skipped] = []
    ids = sorted(set(decision_ids))  # each once, in a stable order the report can follow
    if cycle_id is not None and ids:
        in_cycle = set(db.session.scalars(db.select(Decision.id).join(ReviewItem, ReviewItem.id == Decision.item_id)
                                          .where(Decision.id.in_(ids), ReviewItem.cycle_id == cycle_id)))
        db.session.rollback()  # end the read before the first issue takes its locks
        for decision_id in ids:
            if decision_id not in in_cycle:
                skipped.append(Skipped(decision_id, str(_l("No such decision in this cycle."))))
        ids = [decision_id for decision_id in ids if decision_id in in_cycle]
    for decision_id in ids:
        try:
            issue(actor, decision_id)
        except ServiceError as error:
            db.session.rollback()
            skipped.append(Skipped(decision_id, str(error.message)))
        except SQLAlchemyError as error:
            db.session.rollback()
            current_app.logger.exception("bulk issue: decision %s refused by the database", decision_id)
            skipped.append(Skipped(decision_id, str(_l("The database refused the change (%(error)s); nothing was "
                                                        "issued for this decision.", error=type(error).__name__))))
        else:
            issued.append(decision_id)
    return issued, sorted(skipped, key=lambda s: s.decision_id)
