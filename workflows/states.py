"""The ReviewItem state machine (DESIGN §4).

Services never assign a state: they ask `transition`, so the single table below is
the whole answer to "what may happen next, and who may do it". The table is keyed
by item kind because applications and sampled records share the review half of
their life but start differently.
"""

from enum import StrEnum

from workflows.problems import ProblemError


class ItemKind(StrEnum):
    APPLICATION = "application"
    SAMPLED_RECORD = "sampled_record"


class State(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    SCREENED = "screened"
    RETURNED = "returned"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    IN_REVIEW = "in_review"
    PROPOSED = "proposed"
    ISSUED = "issued"
    SETTLED = "settled"
    SELECTED = "selected"
    AWAITING_RECORDS = "awaiting_records"
    RECORDS_MISSING = "records_missing"
    RECORDS_RECEIVED = "records_received"
    APPEALED = "appealed"
    IN_APPEAL_REVIEW = "in_appeal_review"
    APPEAL_PROPOSED = "appeal_proposed"
    WITHDRAWN = "withdrawn"


class Action(StrEnum):
    SUBMIT = "submit"
    SCREEN = "screen"
    RETURN_INELIGIBLE = "return_ineligible"
    QUEUE = "queue"
    OVERRIDE_ELIGIBILITY = "override_eligibility"
    ASSIGN = "assign"
    START_REVIEW = "start_review"
    PROPOSE = "propose"
    ISSUE = "issue"
    SETTLE = "settle"
    APPEAL = "appeal"
    START_APPEAL_REVIEW = "start_appeal_review"
    PROPOSE_APPEAL = "propose_appeal"
    WITHDRAW = "withdraw"
    REQUEST_RECORDS = "request_records"
    RECEIVE_RECORDS = "receive_records"
    MARK_RECORDS_MISSING = "mark_records_missing"
    CORRECT = "correct"


class Role(StrEnum):
    HOSPITAL = "hospital"
    EXPERT = "expert"
    STAFF = "staff"
    ADMIN = "admin"
    AUDITOR = "auditor"
    SYSTEM = "system"


PANEL_AT_WORK: tuple[State, ...] = (State.ASSIGNED, State.IN_REVIEW)
"""A seated panel is reviewing: seats may change, sheets may be written, reminders go out."""


class TransitionError(ProblemError):
    """A refused transition: no such step from this state, or not for this role."""

    def __init__(
        self, kind: ItemKind, current: State, action: Action, role: Role | None = None
    ) -> None:
        self.kind = kind
        self.current = current
        self.action = action
        self.role = role
        if role is None:
            super().__init__("transition.impossible", kind=kind.value, state=current.value, action=action.value)
        else:
            super().__init__("transition.not_for_role", role=role.value, kind=kind.value, state=current.value,
                             action=action.value)


A = ItemKind.APPLICATION
S = ItemKind.SAMPLED_RECORD

_HOSPITAL = frozenset({Role.HOSPITAL})
_SYSTEM = frozenset({Role.SYSTEM})
_OFFICE = frozenset({Role.STAFF, Role.ADMIN})
_SYSTEM_OR_OFFICE = _SYSTEM | _OFFICE
_RECORDS_ARRIVE = frozenset({Role.HOSPITAL, Role.SYSTEM})
_REVIEWER = frozenset({Role.EXPERT, Role.SYSTEM})


def _review_half(kind: ItemKind) -> dict[tuple[ItemKind, State, Action], tuple[State, frozenset[Role]]]:
    """Both kinds share everything from `assigned` on, including appeals."""
    return {
        (kind, State.ASSIGNED, Action.START_REVIEW): (State.IN_REVIEW, _REVIEWER),
        (kind, State.IN_REVIEW, Action.PROPOSE): (State.PROPOSED, _SYSTEM),
        (kind, State.PROPOSED, Action.ISSUE): (State.ISSUED, _OFFICE),
        (kind, State.ISSUED, Action.SETTLE): (State.SETTLED, _OFFICE),
        # Issue 13 §2: the office corrects a clerical error by a new decision version; the item stays issued.
        (kind, State.ISSUED, Action.CORRECT): (State.ISSUED, _OFFICE),
        (kind, State.ISSUED, Action.APPEAL): (State.APPEALED, _HOSPITAL),
        # Issue 14: a statement settles the item, but neither the hospital's appeal right (until the deadline on
        # the letter) nor the office's correction ends there; a correction makes a new version, unsettled, that
        # the next period's statement settles.
        (kind, State.SETTLED, Action.APPEAL): (State.APPEALED, _HOSPITAL),
        (kind, State.SETTLED, Action.CORRECT): (State.ISSUED, _OFFICE),
        (kind, State.APPEALED, Action.START_APPEAL_REVIEW): (
            State.IN_APPEAL_REVIEW,
            _SYSTEM_OR_OFFICE,
        ),
        (kind, State.IN_APPEAL_REVIEW, Action.PROPOSE_APPEAL): (State.APPEAL_PROPOSED, _SYSTEM),
        (kind, State.APPEAL_PROPOSED, Action.ISSUE): (State.ISSUED, _OFFICE),
    }


TRANSITIONS: dict[tuple[ItemKind, State, Action], tuple[State, frozenset[Role]]] = {
    (A, State.DRAFT, Action.SUBMIT): (State.SUBMITTED, _HOSPITAL),
    (A, State.RETURNED, Action.SUBMIT): (State.SUBMITTED, _HOSPITAL),
    (A, State.SUBMITTED, Action.SCREEN): (State.SCREENED, _SYSTEM),
    (A, State.SCREENED, Action.RETURN_INELIGIBLE): (State.RETURNED, _SYSTEM),
    (A, State.SCREENED, Action.QUEUE): (State.QUEUED, _SYSTEM),
    (A, State.RETURNED, Action.OVERRIDE_ELIGIBILITY): (State.QUEUED, _OFFICE),
    (A, State.QUEUED, Action.ASSIGN): (State.ASSIGNED, _OFFICE),
    # Issue 13: the hospital withdraws until a panel is seated; from then on only the office may, with a reason.
    **{
        (A, state, Action.WITHDRAW): (State.WITHDRAWN, _HOSPITAL | _OFFICE)
        for state in (State.DRAFT, State.SUBMITTED, State.SCREENED, State.RETURNED, State.QUEUED)
    },
    **{(A, state, Action.WITHDRAW): (State.WITHDRAWN, _OFFICE) for state in PANEL_AT_WORK},
    **_review_half(A),
    (S, State.SELECTED, Action.REQUEST_RECORDS): (State.AWAITING_RECORDS, _SYSTEM_OR_OFFICE),
    (S, State.AWAITING_RECORDS, Action.RECEIVE_RECORDS): (State.RECORDS_RECEIVED, _RECORDS_ARRIVE),
    (S, State.AWAITING_RECORDS, Action.MARK_RECORDS_MISSING): (
        State.RECORDS_MISSING,
        _SYSTEM_OR_OFFICE,
    ),
    (S, State.RECORDS_MISSING, Action.PROPOSE): (State.PROPOSED, _SYSTEM),
    (S, State.RECORDS_RECEIVED, Action.ASSIGN): (State.ASSIGNED, _OFFICE),
    # A sampled record is the bureau's draw: the hospital cannot take it back, the office may cancel it (with a
    # reason) until a decision is proposed. This departs from DESIGN §4 on purpose (docs/ARCHITECTURE.md, "States").
    **{
        (S, state, Action.WITHDRAW): (State.WITHDRAWN, _OFFICE)
        for state in (State.SELECTED, State.AWAITING_RECORDS, State.RECORDS_MISSING, State.RECORDS_RECEIVED,
                      *PANEL_AT_WORK)
    },
    **_review_half(S),
}
"""The one transition table: (kind, state, action) → (new state, roles allowed)."""

INITIAL_STATES: dict[ItemKind, State] = {A: State.DRAFT, S: State.SELECTED}
"""Where each kind is born; services create items in this state and nowhere else."""

TERMINAL_STATES: frozenset[State] = frozenset({State.WITHDRAWN})

STANDING_STATES: frozenset[State] = frozenset({State.ISSUED, State.SETTLED})
"""The item's issued decision stands: it may be appealed (until its deadline) or corrected."""

ISSUED_STATES: frozenset[State] = frozenset(
    {State.ISSUED, State.SETTLED, State.APPEALED, State.IN_APPEAL_REVIEW, State.APPEAL_PROPOSED}
)
"""States in which a Decision must exist; the database mirrors this in a CHECK constraint."""


def transition(kind: ItemKind, current: State, action: Action, role: Role) -> State:
    """Return the next state, or refuse naming what was wrong (the move or the role)."""
    entry = TRANSITIONS.get((kind, current, action))
    if entry is None:
        raise TransitionError(kind, current, action)
    new_state, roles = entry
    if role not in roles:
        raise TransitionError(kind, current, action, role)
    return new_state


def allowed_actions(kind: ItemKind, current: State, role: Role) -> list[Action]:
    """What to offer this role on screen; sorted so buttons do not reorder between requests."""
    return sorted(
        (
            action
            for (k, state, action), (_, roles) in TRANSITIONS.items()
            if k == kind and state == current and role in roles
        ),
        key=lambda action: action.value,
    )


class SettlementState(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    ACKNOWLEDGED = "acknowledged"
    DISPUTED = "disputed"


class SettlementAction(StrEnum):
    ISSUE = "issue"
    ACKNOWLEDGE = "acknowledge"
    DISPUTE = "dispute"


SETTLEMENT_TRANSITIONS: dict[tuple[SettlementState, SettlementAction], tuple[SettlementState, frozenset[Role]]] = {
    (SettlementState.DRAFT, SettlementAction.ISSUE): (SettlementState.ISSUED, _OFFICE),
    (SettlementState.ISSUED, SettlementAction.ACKNOWLEDGE): (SettlementState.ACKNOWLEDGED, _HOSPITAL),
    (SettlementState.ISSUED, SettlementAction.DISPUTE): (SettlementState.DISPUTED, _HOSPITAL),
}
"""A hospital's quarterly statement (DESIGN §10.3): the office issues a draft, the hospital answers it once. A
disputed statement stays as issued; what the dispute names is put right by an appeal or a correction, whose new
version the next period's statement carries."""


class SettlementStepRefused(ProblemError):
    """A refused step of a statement: not from this state, or not for this role."""


def settlement_transition(current: SettlementState, action: SettlementAction, role: Role) -> SettlementState:
    entry = SETTLEMENT_TRANSITIONS.get((current, action))
    if entry is None:
        raise SettlementStepRefused("settlement.step_impossible", statement_state=current.value, step=action.value)
    new_state, roles = entry
    if role not in roles:
        raise SettlementStepRefused("settlement.step_not_for_role", statement_state=current.value,
                                    step=action.value, role=role.value)
    return new_state


class PeriodState(StrEnum):
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class PeriodAction(StrEnum):
    BEGIN_CLOSE = "begin_close"
    CLOSE = "close"


PERIOD_TRANSITIONS: dict[tuple[PeriodState, PeriodAction], tuple[PeriodState, frozenset[Role]]] = {
    (PeriodState.OPEN, PeriodAction.BEGIN_CLOSE): (PeriodState.CLOSING, _SYSTEM_OR_OFFICE),
    (PeriodState.CLOSING, PeriodAction.CLOSE): (PeriodState.CLOSED, _SYSTEM_OR_OFFICE),
}
"""An accounting period (DESIGN §10.3): `closing` refuses new entries while the close reconciles and hashes (the
database's trigger reads it), `closed` for good. The office closes from its pages, an operator from the CLI."""


class PeriodStepRefused(ProblemError):
    """A refused step of an accounting period: not from this state, or not for this role."""


def period_transition(current: PeriodState, action: PeriodAction, role: Role, period: str) -> PeriodState:
    entry = PERIOD_TRANSITIONS.get((current, action))
    if entry is None and current == PeriodState.CLOSED:
        raise PeriodStepRefused("ledger.period_closed", period=period)
    if entry is None:
        raise PeriodStepRefused("ledger.period_step_impossible", period=period, period_state=current.value,
                                period_step=action.value)
    new_state, roles = entry
    if role not in roles:
        raise PeriodStepRefused("ledger.period_step_not_for_role", period=period, period_step=action.value,
                                role=role.value)
    return new_state


class AppealState(StrEnum):
    FILED = "filed"
    IN_REVIEW = "in_review"
    PROPOSED = "proposed"
    ISSUED = "issued"
    REFUSED_LATE = "refused_late"
    WITHDRAWN = "withdrawn"


class AppealAction(StrEnum):
    SEAT_PANEL = "seat_panel"
    PROPOSE = "propose"
    ISSUE = "issue"


APPEAL_TRANSITIONS: dict[tuple[AppealState, AppealAction], tuple[AppealState, frozenset[Role]]] = {
    (AppealState.FILED, AppealAction.SEAT_PANEL): (AppealState.IN_REVIEW, _SYSTEM_OR_OFFICE),
    (AppealState.IN_REVIEW, AppealAction.PROPOSE): (AppealState.PROPOSED, _SYSTEM),
    (AppealState.PROPOSED, AppealAction.ISSUE): (AppealState.ISSUED, _OFFICE),
}
"""A hospital's appeal (DESIGN §10.2) moves with its item, step for step and with the same roles: the item's
START_APPEAL_REVIEW, PROPOSE_APPEAL and ISSUE (of version n+1). `refused_late` and `withdrawn` are kept for records
of a refusal and a withdrawal; no step leads to them yet."""


class AppealStepRefused(ProblemError):
    """A refused step of an appeal. Its item's step, checked in the same transaction, refuses first in practice."""


def appeal_transition(current: AppealState, action: AppealAction, role: Role) -> AppealState:
    entry = APPEAL_TRANSITIONS.get((current, action))
    if entry is None or role not in entry[1]:
        raise AppealStepRefused("appeal.step_impossible", appeal_state=current.value)
    return entry[0]


class CycleStatus(StrEnum):
    PLANNED = "planned"
    OPEN = "open"
    CLOSED = "closed"


CYCLE_STEPS: dict[CycleStatus, CycleStatus] = {CycleStatus.PLANNED: CycleStatus.OPEN, CycleStatus.OPEN: CycleStatus.CLOSED}
"""A cycle is moved by the calendar only (review/services/calendar.py, as the system, each event once and logged):
`planned` until its application window opens, `open` until its settlement date has passed, then `closed`."""


def cycle_status_after(current: CycleStatus, wanted: CycleStatus) -> CycleStatus:
    """The calendar catches up one step at a time, so a cycle never skips `open` and never reopens: a cycle made
    with its window already open is not moved back by the window's event."""
    if current == wanted or CYCLE_STEPS.get(current) != wanted:
        return current
    return wanted


class DecisionStatus(StrEnum):
    PROPOSED = "proposed"
    AWAITING_APPROVAL = "awaiting_approval"
    ISSUED = "issued"
    SUPERSEDED = "superseded"
    DISCARDED = "discarded"


class DecisionAction(StrEnum):
    ISSUE = "issue"
    SUPERSEDE = "supersede"
    DISCARD = "discard"


DECISION_TRANSITIONS: dict[tuple[DecisionStatus, DecisionAction], tuple[DecisionStatus, frozenset[Role]]] = {
    (DecisionStatus.PROPOSED, DecisionAction.ISSUE): (DecisionStatus.ISSUED, _OFFICE),
    (DecisionStatus.AWAITING_APPROVAL, DecisionAction.ISSUE): (DecisionStatus.ISSUED, _OFFICE),
    (DecisionStatus.ISSUED, DecisionAction.SUPERSEDE): (DecisionStatus.SUPERSEDED, _OFFICE),
    (DecisionStatus.AWAITING_APPROVAL, DecisionAction.DISCARD): (DecisionStatus.DISCARDED, _OFFICE),
}
"""A decision version (DESIGN §10.2): a panel's proposal, or an office correction awaiting a second member's
approval, is issued once; issuing version n+1 supersedes version n, which keeps its letter; a correction rejected
or withdrawn is discarded for good. `superseded` and `discarded` are final. Who may approve a correction (not its
proposer) is the corrections service's rule on top of this table."""


class DecisionStepRefused(ProblemError):
    """A refused step of a decision version: not from its status, or not for this role."""


def decision_transition(current: DecisionStatus, action: DecisionAction, role: Role) -> DecisionStatus:
    entry = DECISION_TRANSITIONS.get((current, action))
    if entry is None or role not in entry[1]:
        raise DecisionStepRefused("decision.step_impossible", decision_status=current.value)
    return entry[0]
