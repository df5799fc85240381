import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.states import (
    INITIAL_STATES,
    ISSUED_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    Action,
    APPEAL_TRANSITIONS,
    AppealAction,
    AppealState,
    AppealStepRefused,
    CycleStatus,
    DecisionAction,
    DecisionStatus,
    DecisionStepRefused,
    ItemKind,
    PeriodAction,
    PeriodState,
    PeriodStepRefused,
    Role,
    SettlementAction,
    SettlementState,
    SettlementStepRefused,
    State,
    TransitionError,
    allowed_actions,
    appeal_transition,
    cycle_status_after,
    decision_transition,
    period_transition,
    settlement_transition,
    transition,
)
from workflows.problems import Problem

A = ItemKind.APPLICATION
S = ItemKind.SAMPLED_RECORD

# Every edge of DESIGN §4, written out independently of the table.
DESIGN_EDGES: set[tuple[ItemKind, State, Action, State]] = {
    (A, State.DRAFT, Action.SUBMIT, State.SUBMITTED),
    (A, State.SUBMITTED, Action.SCREEN, State.SCREENED),
    (A, State.SCREENED, Action.RETURN_INELIGIBLE, State.RETURNED),
    (A, State.RETURNED, Action.SUBMIT, State.SUBMITTED),
    (A, State.RETURNED, Action.OVERRIDE_ELIGIBILITY, State.QUEUED),
    (A, State.SCREENED, Action.QUEUE, State.QUEUED),
    (A, State.QUEUED, Action.ASSIGN, State.ASSIGNED),
    (S, State.SELECTED, Action.REQUEST_RECORDS, State.AWAITING_RECORDS),
    (S, State.AWAITING_RECORDS, Action.MARK_RECORDS_MISSING, State.RECORDS_MISSING),
    (S, State.RECORDS_MISSING, Action.PROPOSE, State.PROPOSED),
    (S, State.AWAITING_RECORDS, Action.RECEIVE_RECORDS, State.RECORDS_RECEIVED),
    (S, State.RECORDS_RECEIVED, Action.ASSIGN, State.ASSIGNED),
}
for _kind in ItemKind:
    DESIGN_EDGES |= {
        (_kind, State.ASSIGNED, Action.START_REVIEW, State.IN_REVIEW),
        (_kind, State.IN_REVIEW, Action.PROPOSE, State.PROPOSED),
        (_kind, State.PROPOSED, Action.ISSUE, State.ISSUED),
        (_kind, State.ISSUED, Action.SETTLE, State.SETTLED),
        (_kind, State.ISSUED, Action.APPEAL, State.APPEALED),
        (_kind, State.APPEALED, Action.START_APPEAL_REVIEW, State.IN_APPEAL_REVIEW),
        (_kind, State.IN_APPEAL_REVIEW, Action.PROPOSE_APPEAL, State.APPEAL_PROPOSED),
        (_kind, State.APPEAL_PROPOSED, Action.ISSUE, State.ISSUED),
        (_kind, State.ISSUED, Action.CORRECT, State.ISSUED),  # issue 13 §2: a correction is a new version
        # issue 14: a statement does not end the appeal right nor stop a correction (a new, unsettled version)
        (_kind, State.SETTLED, Action.APPEAL, State.APPEALED),
        (_kind, State.SETTLED, Action.CORRECT, State.ISSUED),
    }
DESIGN_EDGES |= {
    (A, state, Action.WITHDRAW, State.WITHDRAWN)
    for state in (State.DRAFT, State.SUBMITTED, State.SCREENED, State.RETURNED, State.QUEUED)
}
DESIGN_EDGES |= {(A, state, Action.WITHDRAW, State.WITHDRAWN) for state in (State.ASSIGNED, State.IN_REVIEW)}
DESIGN_EDGES |= {
    (S, state, Action.WITHDRAW, State.WITHDRAWN)
    for state in (State.SELECTED, State.AWAITING_RECORDS, State.RECORDS_MISSING, State.RECORDS_RECEIVED,
                  State.ASSIGNED, State.IN_REVIEW)
}


def _some_role(kind: ItemKind, state: State, action: Action) -> Role:
    return sorted(TRANSITIONS[(kind, state, action)][1])[0]


def test_table_is_exactly_the_design() -> None:
    table = {(k, s, a, new) for (k, s, a), (new, _) in TRANSITIONS.items()}
    assert table == DESIGN_EDGES


def _reachable(kind: ItemKind) -> set[State]:
    seen = {INITIAL_STATES[kind]}
    frontier = [INITIAL_STATES[kind]]
    while frontier:
        state = frontier.pop()
        for (k, s, a), (new, roles) in TRANSITIONS.items():
            if k == kind and s == state and new not in seen:
                seen.add(new)
                frontier.append(new)
    return seen


@pytest.mark.parametrize("edge", sorted(DESIGN_EDGES), ids=lambda e: f"{e[0]}:{e[1]}-{e[2]}")
def test_every_edge_is_reachable_and_taken(edge: tuple[ItemKind, State, Action, State]) -> None:
    kind, state, action, new = edge
    assert state in _reachable(kind)
    assert transition(kind, state, action, _some_role(kind, state, action)) == new


def test_terminal_states_have_no_way_out() -> None:
    sources = {s for (_, s, _) in TRANSITIONS}
    targets = {new for new, _ in TRANSITIONS.values()}
    assert TERMINAL_STATES == targets - sources


def test_issued_states_are_only_reached_through_issue() -> None:
    for kind in ItemKind:
        for (k, s, a), (new, _) in TRANSITIONS.items():
            if k == kind and new in ISSUED_STATES and s not in ISSUED_STATES:
                assert a == Action.ISSUE


@given(
    kind=st.sampled_from(ItemKind),
    choices=st.lists(st.tuples(st.sampled_from(Action), st.sampled_from(Role)), max_size=60),
)
def test_random_walk_stays_in_table(
    kind: ItemKind, choices: list[tuple[Action, Role]]
) -> None:
    states_in_table = {s for (k, s, _) in TRANSITIONS if k == kind} | TERMINAL_STATES
    state = INITIAL_STATES[kind]
    for action, role in choices:
        try:
            new = transition(kind, state, action, role)
        except TransitionError:
            assert action not in allowed_actions(kind, state, role)
            continue
        assert action in allowed_actions(kind, state, role)
        expected_state, roles = TRANSITIONS[(kind, state, action)]
        assert new == expected_state and role in roles
        state = new
        assert state in states_in_table


def test_wrong_role_is_refused_and_named() -> None:
    with pytest.raises(TransitionError) as info:
        transition(A, State.PROPOSED, Action.ISSUE, Role.EXPERT)
    assert info.value.problem == Problem("transition.not_for_role", role="expert", kind="application",
                                         state="proposed", action="issue")
    assert info.value.role == Role.EXPERT


def test_impossible_move_names_kind_state_action() -> None:
    with pytest.raises(TransitionError) as info:
        transition(A, State.DRAFT, Action.SETTLE, Role.STAFF)
    assert info.value.problem == Problem("transition.impossible", kind="application", state="draft", action="settle")
    assert info.value.role is None


def test_hospital_cannot_withdraw_once_assigned() -> None:
    with pytest.raises(TransitionError):
        transition(A, State.ASSIGNED, Action.WITHDRAW, Role.HOSPITAL)
    assert transition(A, State.ASSIGNED, Action.WITHDRAW, Role.STAFF) == State.WITHDRAWN
    assert transition(A, State.QUEUED, Action.WITHDRAW, Role.HOSPITAL) == State.WITHDRAWN


@pytest.mark.parametrize("state", [State.SELECTED, State.AWAITING_RECORDS, State.RECORDS_RECEIVED])
def test_a_hospital_cannot_withdraw_a_record_drawn_for_review(state: State) -> None:
    with pytest.raises(TransitionError):
        transition(S, state, Action.WITHDRAW, Role.HOSPITAL)
    assert transition(S, state, Action.WITHDRAW, Role.ADMIN) == State.WITHDRAWN


@pytest.mark.parametrize("kind", ItemKind)
@pytest.mark.parametrize("state", [State.PROPOSED, *sorted(ISSUED_STATES)])
def test_nobody_withdraws_once_a_decision_exists(kind: ItemKind, state: State) -> None:
    for role in Role:
        assert Action.WITHDRAW not in allowed_actions(kind, state, role)


def test_kinds_do_not_share_their_intake() -> None:
    with pytest.raises(TransitionError):
        transition(S, State.QUEUED, Action.ASSIGN, Role.STAFF)
    with pytest.raises(TransitionError):
        transition(A, State.SELECTED, Action.REQUEST_RECORDS, Role.STAFF)


@pytest.mark.parametrize("kind", ItemKind)
@pytest.mark.parametrize("state", State)
def test_auditor_can_do_nothing(kind: ItemKind, state: State) -> None:
    assert allowed_actions(kind, state, Role.AUDITOR) == []


@pytest.mark.parametrize(
    ("role", "actions"),
    [
        (Role.HOSPITAL, {"submit", "withdraw", "appeal", "receive_records"}),
        (
            Role.SYSTEM,
            {
                "screen", "return_ineligible", "queue", "start_review", "propose",
                "propose_appeal", "mark_records_missing", "start_appeal_review",
                "request_records", "receive_records",
            },
        ),
        (
            Role.STAFF,
            {
                "assign", "issue", "settle", "override_eligibility", "start_appeal_review",
                "request_records", "mark_records_missing", "withdraw", "correct",
            },
        ),
        (
            Role.ADMIN,
            {
                "assign", "issue", "settle", "override_eligibility", "start_appeal_review",
                "request_records", "mark_records_missing", "withdraw", "correct",
            },
        ),
        (Role.EXPERT, {"start_review"}),
        (Role.AUDITOR, set()),
    ],
)
def test_permissions_per_role(role: Role, actions: set[str]) -> None:
    granted = {a for (_, _, a), (_, roles) in TRANSITIONS.items() if role in roles}
    assert granted == actions


def test_allowed_actions_sorted_by_value() -> None:
    assert allowed_actions(A, State.RETURNED, Role.HOSPITAL) == [Action.SUBMIT, Action.WITHDRAW]
    assert allowed_actions(A, State.SCREENED, Role.SYSTEM) == [
        Action.QUEUE,
        Action.RETURN_INELIGIBLE,
    ]


def test_a_statement_is_issued_by_the_office_and_answered_once_by_its_hospital() -> None:
    assert settlement_transition(SettlementState.DRAFT, SettlementAction.ISSUE, Role.STAFF) == SettlementState.ISSUED
    for answer, state in ((SettlementAction.ACKNOWLEDGE, SettlementState.ACKNOWLEDGED),
                          (SettlementAction.DISPUTE, SettlementState.DISPUTED)):
        assert settlement_transition(SettlementState.ISSUED, answer, Role.HOSPITAL) == state
        with pytest.raises(SettlementStepRefused) as refused:
            settlement_transition(SettlementState.ISSUED, answer, Role.STAFF)
        assert refused.value.problem.code == "settlement.step_not_for_role"
        for answered in (SettlementState.ACKNOWLEDGED, SettlementState.DISPUTED, SettlementState.DRAFT):
            with pytest.raises(SettlementStepRefused) as refused:
                settlement_transition(answered, answer, Role.HOSPITAL)
            assert refused.value.problem.code == "settlement.step_impossible"
    with pytest.raises(SettlementStepRefused):
        settlement_transition(SettlementState.DRAFT, SettlementAction.ISSUE, Role.HOSPITAL)
    with pytest.raises(SettlementStepRefused):
        settlement_transition(SettlementState.ISSUED, SettlementAction.ISSUE, Role.STAFF)


def test_a_period_closes_once_through_closing_for_the_office_or_an_operator() -> None:
    for role in (Role.STAFF, Role.ADMIN, Role.SYSTEM):
        assert period_transition(PeriodState.OPEN, PeriodAction.BEGIN_CLOSE, role, "2026Q3") == PeriodState.CLOSING
        assert period_transition(PeriodState.CLOSING, PeriodAction.CLOSE, role, "2026Q3") == PeriodState.CLOSED
    for action in PeriodAction:
        with pytest.raises(PeriodStepRefused) as refused:
            period_transition(PeriodState.CLOSED, action, Role.STAFF, "2026Q3")
        assert refused.value.problem == Problem("ledger.period_closed", period="2026Q3")
    with pytest.raises(PeriodStepRefused) as refused:  # no close without the reconciling step
        period_transition(PeriodState.OPEN, PeriodAction.CLOSE, Role.STAFF, "2026Q3")
    assert refused.value.problem.code == "ledger.period_step_impossible"
    for role in (Role.HOSPITAL, Role.EXPERT, Role.AUDITOR):
        with pytest.raises(PeriodStepRefused) as refused:
            period_transition(PeriodState.OPEN, PeriodAction.BEGIN_CLOSE, role, "2026Q3")
        assert refused.value.problem.code == "ledger.period_step_not_for_role"


@pytest.mark.parametrize("kind", list(ItemKind))
def test_an_appeal_steps_with_its_item_and_the_same_roles(kind: ItemKind) -> None:
    """Each appeal step is the item's step of the same moment: same states before and after, same roles."""
    item_step = {AppealAction.SEAT_PANEL: (State.APPEALED, Action.START_APPEAL_REVIEW),
                 AppealAction.PROPOSE: (State.IN_APPEAL_REVIEW, Action.PROPOSE_APPEAL),
                 AppealAction.ISSUE: (State.APPEAL_PROPOSED, Action.ISSUE)}
    path = [AppealState.FILED]
    for action in (AppealAction.SEAT_PANEL, AppealAction.PROPOSE, AppealAction.ISSUE):
        item_state, item_action = item_step[action]
        _after, item_roles = TRANSITIONS[(kind, item_state, item_action)]
        assert APPEAL_TRANSITIONS[(path[-1], action)][1] == item_roles
        for role in Role:
            if role in item_roles:
                continue
            with pytest.raises(AppealStepRefused) as refused:
                appeal_transition(path[-1], action, role)
            assert refused.value.problem == Problem("appeal.step_impossible", appeal_state=path[-1].value)
        path.append(appeal_transition(path[-1], action, next(iter(item_roles))))
    assert path[-1] == AppealState.ISSUED
    with pytest.raises(AppealStepRefused):
        appeal_transition(AppealState.ISSUED, AppealAction.SEAT_PANEL, Role.STAFF)


def test_a_cycle_goes_planned_open_closed_and_never_back() -> None:
    assert cycle_status_after(CycleStatus.PLANNED, CycleStatus.OPEN) == CycleStatus.OPEN
    assert cycle_status_after(CycleStatus.OPEN, CycleStatus.CLOSED) == CycleStatus.CLOSED
    assert cycle_status_after(CycleStatus.OPEN, CycleStatus.OPEN) == CycleStatus.OPEN  # made with its window open
    assert cycle_status_after(CycleStatus.CLOSED, CycleStatus.OPEN) == CycleStatus.CLOSED  # never reopened
    assert cycle_status_after(CycleStatus.PLANNED, CycleStatus.CLOSED) == CycleStatus.PLANNED  # never skips open


def test_a_decision_version_is_issued_once_superseded_by_the_next_and_a_correction_may_be_discarded() -> None:
    for start in (DecisionStatus.PROPOSED, DecisionStatus.AWAITING_APPROVAL):
        assert decision_transition(start, DecisionAction.ISSUE, Role.STAFF) == DecisionStatus.ISSUED
    assert decision_transition(DecisionStatus.ISSUED, DecisionAction.SUPERSEDE, Role.ADMIN) == DecisionStatus.SUPERSEDED
    assert decision_transition(DecisionStatus.AWAITING_APPROVAL, DecisionAction.DISCARD,
                               Role.STAFF) == DecisionStatus.DISCARDED
    refused = [(status, action) for status in DecisionStatus for action in DecisionAction
               if (status, action) not in {(DecisionStatus.PROPOSED, DecisionAction.ISSUE),
                                           (DecisionStatus.AWAITING_APPROVAL, DecisionAction.ISSUE),
                                           (DecisionStatus.ISSUED, DecisionAction.SUPERSEDE),
                                           (DecisionStatus.AWAITING_APPROVAL, DecisionAction.DISCARD)}]
    for status, action in refused:  # issued once; superseded and discarded are final; only a correction is discarded
        with pytest.raises(DecisionStepRefused) as refusal:
            decision_transition(status, action, Role.STAFF)
        assert refusal.value.problem == Problem("decision.step_impossible", decision_status=status.value)
    for role in (Role.HOSPITAL, Role.EXPERT, Role.AUDITOR, Role.SYSTEM):
        with pytest.raises(DecisionStepRefused):
            decision_transition(DecisionStatus.PROPOSED, DecisionAction.ISSUE, role)
