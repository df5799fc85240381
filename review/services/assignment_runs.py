"""Panel assignment runs: snapshot the cycle's items and qualified pool, solve in the worker, let staff inspect
the proposal, apply it, and let anyone re-verify it later.

The run row holds the whole input, so `verify` needs nothing but the row. Applying re-reads the live input and
refuses when its hash differs from the run's: a proposal computed before an item was queued, an expert
deactivated or a conflict declared is never applied.
"""
from __future__ import annotations

import platform
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date

import numpy
import ortools
from flask import current_app
from flask_babel import lazy_gettext as _l

from review.extensions import db
from review.models import (Appeal, Assignment, AssignmentJob, AssignmentRun, Case, Cycle, DrgCatalogue, Expert, ExpertConflict,
                           Hospital, ReviewItem, SpecialtyRelation, User)
from review.models.assignment_run import JOB_KINDS
from review.models.types import utcnow
from review.services import activity, holidays, jobs
from review.services.context import SYSTEM, Actor, NotFound, ServiceError
from review.services.cycles import cycle_for_draw, region_today
from review.services.items import move, move_appeal
from review.services.notifications import notify
from workflows.assignment import (ALGORITHM_VERSION, Config, ExpertSpec, ItemSpec, Problem, Solution, canonical_hash,
                                  seed_from, solve)
from workflows.pool import qualifies, specialty_for_mdc
from workflows import problems
from workflows.states import Action, AppealAction, ItemKind, Role, State

ASSIGNABLE = {ItemKind.APPLICATION.value: State.QUEUED.value, ItemKind.SAMPLED_RECORD.value: State.RECORDS_RECEIVED.value}
"""The state in which each kind of item waits for its panel."""

ROUND_OF_KIND = {"draw": 1, "appeal": 2}
"""Which round's seats a cycle run of each job kind fills: the first panels, or the appeal panels."""


def library_versions() -> dict[str, str]:
    return {"ortools": ortools.__version__, "numpy": numpy.__version__, "python": platform.python_version()}


def assignable_items(cycle: Cycle, *, for_update: bool = False, kind: str = "draw") -> list[ReviewItem]:
    """The items a run of `kind` seats: those waiting for a first panel, or (`appeal`) the appealed ones."""
    waiting = (ReviewItem.state == State.APPEALED.value if kind == "appeal" else db.or_(*(
        (ReviewItem.kind == item_kind) & (ReviewItem.state == state) for item_kind, state in ASSIGNABLE.items())))
    query = db.select(ReviewItem).where(ReviewItem.cycle_id == cycle.id, waiting)
    if for_update:
        query = query.with_for_update()
    return list(db.session.scalars(query.order_by(ReviewItem.id)))


def config_for(cycle: Cycle) -> Config:
    policy = cycle.policy
    return Config(k=policy.panel_size, one_per_hospital=policy.panel_one_per_hospital,
                  candidates_per_item=int(current_app.config["ASSIGNMENT_CANDIDATES_PER_ITEM"]))


def qualified_experts(cycle: Cycle) -> list[Expert]:
    """Active experts meeting the cycle's qualification rule (title and hospital level from the policy)."""
    min_title, levels = cycle.policy.panel_min_title, cycle.policy.panel_hospital_levels
    rows = db.session.execute(db.select(Expert, Hospital.level).join(Hospital, Expert.hospital_id == Hospital.id)
                              .where(Expert.active.is_(True)).order_by(Expert.id)).all()
    return [expert for expert, level in rows if qualifies(expert.title, level, min_title, levels)]


def build_problem(cycle: Cycle, items: list[ReviewItem], *, round_: int = 1) -> Problem:
    """The solver's whole input, read from the database as it is now, for seats in `round_`. The item's active
    seats of that round are locked in and every other expert who ever sat on the item (stepped down, or seated in
    the other round) is excluded: an appeal panel (round 2) never seats anyone of the first panel, and a
    replacement on either panel never brings back who stepped down. Conflicts, qualification, caps and loads are
    the same for both rounds."""
    item_ids = [item.id for item in items]
    mdc = dict(db.session.execute(db.select(Case.id, DrgCatalogue.mdc).join(DrgCatalogue, DrgCatalogue.drg == Case.drg)
                                  .where(DrgCatalogue.scheme == cycle.catalogue_scheme,
                                         Case.id.in_({item.case_id for item in items}))).all()) if items else {}
    seated: dict[int, set[int]] = {}
    excluded: dict[int, set[int]] = {}
    if item_ids:
        for item_id, expert_id, status, seat_round in db.session.execute(db.select(
                Assignment.item_id, Assignment.expert_id, Assignment.status, Assignment.round).where(
                Assignment.item_id.in_(item_ids))):
            locked = status == "active" and seat_round == round_
            (seated if locked else excluded).setdefault(item_id, set()).add(expert_id)
    loads = dict(db.session.execute(db.select(Assignment.expert_id, db.func.count()).join(ReviewItem).where(
        ReviewItem.cycle_id == cycle.id, Assignment.status == "active").group_by(Assignment.expert_id)).all())
    experts = qualified_experts(cycle)
    expert_ids = {expert.id for expert in experts}
    conflicts = {(c.expert_id, c.hospital_id) for c in db.session.scalars(db.select(ExpertConflict))
                 if c.expert_id in expert_ids and c.overlaps(cycle.quarter_start, cycle.review_deadline)}
    def spec(item: ReviewItem) -> ItemSpec:
        return ItemSpec(item.id, item.hospital_id, specialty_for_mdc(mdc.get(item.case_id)),
                        frozenset(seated.get(item.id, ())), frozenset(excluded.get(item.id, ())))

    return Problem(
        items=tuple(spec(item) for item in items),
        experts=tuple(ExpertSpec(e.id, e.hospital_id, frozenset(e.specialties or ()), e.cap_per_cycle,
                                 int(loads.get(e.id, 0))) for e in experts),
        conflicts=frozenset(conflicts),
        related=frozenset((r.specialty, r.stand_in) for r in db.session.scalars(db.select(SpecialtyRelation))),
    )


def _stats(problem: Problem, solution: Solution) -> dict[str, object]:
    specialty = {item.item_id: item.specialty or "" for item in problem.items}
    fallbacks = Counter(specialty[s.item_id] for s in solution.seats if s.tier.value == "related")
    return {"items": len(problem.items), "experts": len(problem.experts), "seats": len(solution.seats),
            "fallbacks": solution.fallbacks, "unfilled": len(solution.unfilled),
            "loads": {str(e): n for e, n in sorted(solution.loads().items())},
            "fallbacks_by_specialty": dict(sorted(fallbacks.items()))}


def record_run(cycle: Cycle, kind: str, published_value: str, seed: str, problem: Problem, config: Config,
               created_by_id: int | None, parent_run_id: int | None = None) -> tuple[AssignmentRun, Solution]:
    """Solve and store the run with everything `verify` needs; the caller commits."""
    started = time.perf_counter()
    solution = solve(problem, seed, config)
    elapsed = time.perf_counter() - started
    run = AssignmentRun(cycle_id=cycle.id, kind=kind, parent_run_id=parent_run_id, published_value=published_value,
                        seed=seed, algorithm_version=ALGORITHM_VERSION, library_versions=library_versions(),
                        config=config.as_dict(), input=problem.canonical(), input_hash=problem.input_hash(),
                        result=solution.canonical(), assignment_hash=solution.assignment_hash(),
                        stats=_stats(problem, solution), solve_ms=round(elapsed * 1000), created_by_id=created_by_id)
    db.session.add(run)
    db.session.flush()
    return run, solution


def draw_seed(published_value: str, cycle: Cycle, input_hash: str, kind: str = "draw") -> str:
    """The seed of a cycle draw, bound to the value published before it and to the exact input; an appeal
    draw's seed also names its kind, so it never repeats a first draw's."""
    return seed_from(published_value, cycle.code, input_hash, *(("appeal",) if kind == "appeal" else ()))


# --- jobs: start, execute (worker), apply ---------------------------------------------------------


def _refuse_if_busy(cycle_id: int) -> None:
    busy = db.session.scalar(db.select(AssignmentJob.id).where(
        AssignmentJob.cycle_id == cycle_id, AssignmentJob.status.in_(("queued", "running"))))
    if busy is not None:
        raise ServiceError(_l("An assignment run for this cycle is already in progress."))


def start(actor: Actor, cycle_id: int, published_value: str, kind: str = "draw") -> AssignmentJob:
    """Request a run of `kind`: `draw` seats first panels, `appeal` seats appeal panels on appealed items."""
    if kind not in JOB_KINDS:
        raise ServiceError(_l("Unknown kind of assignment run."))
    cycle, published_value = cycle_for_draw(actor, cycle_id, published_value)
    _refuse_if_busy(cycle.id)
    job = AssignmentJob(cycle_id=cycle.id, kind=kind, published_value=published_value, created_by_id=actor.user_id)
    db.session.add(job)
    db.session.flush()
    activity.record(actor, "assignment_run.requested", "assignment_job", job.id, None,
                    {"cycle": cycle.code, "published_value": published_value, "kind": kind}, region_id=cycle.region_id)
    job_id = job.id
    from review.tasks import run_assignment  # here, not at the top: the task module imports this one

    jobs.enqueue(run_assignment, job_id, actor=actor)  # committed with the request, sent after it
    # Nothing is read between the commit (which sends the task) and the return: an eager task runs in its own
    # session, and a read here would pin this session to a snapshot from before the run.
    db.session.commit()
    return db.session.get(AssignmentJob, job_id)  # type: ignore[return-value]


def _progress(job: AssignmentJob, stage: str, progress: int) -> None:
    job.stage, job.progress = stage, progress
    db.session.commit()


def execute(job_id: int) -> int | None:
    """Compute the run for a queued job (Celery); a job already started or finished is left alone. Under the job
    runner a job its killed predecessor left `running` is resumed: the run and the job's result are committed
    together, so nothing of that attempt was kept."""
    claimable = ("queued", "running") if jobs.leased() else ("queued",)
    job = db.session.scalars(db.select(AssignmentJob).where(AssignmentJob.id == job_id).with_for_update()).first()
    if job is None or job.status not in claimable:
        db.session.rollback()
        return None
    job.status = "running"
    _progress(job, "snapshot", 10)
    try:
        cycle = job.cycle
        problem = build_problem(cycle, assignable_items(cycle, kind=job.kind), round_=ROUND_OF_KIND[job.kind])
        seed = draw_seed(job.published_value, cycle, problem.input_hash(), job.kind)
        _progress(job, "solving", 40)
        run, solution = record_run(cycle, job.kind, job.published_value, seed, problem, config_for(cycle),
                                   job.created_by_id)
    except Exception:
        db.session.rollback()  # the job runner tries again, and fails the job visibly when it gives up
        raise
    job.run_id, job.status, job.stage, job.progress, job.finished_at = run.id, "done", "proposed", 100, utcnow()
    activity.record(SYSTEM, "assignment_run.computed", "assignment_run", run.id, None, {
        "job_id": job.id, "seed": seed, "input_hash": run.input_hash, "assignment_hash": run.assignment_hash,
        "items": len(problem.items), "seats": len(solution.seats), "fallbacks": solution.fallbacks,
        "unfilled": len(solution.unfilled), "solve_ms": run.solve_ms}, region_id=job.cycle.region_id)
    db.session.commit()
    return run.id


def give_up(job_id: int, stopped: problems.Problem) -> None:
    """The job runner stopped trying; in its transaction. The cycle is free for a new run."""
    job = db.session.get(AssignmentJob, job_id)
    assert job is not None
    job.status, job.stage, job.finished_at, job.message = "failed", "failed", utcnow(), jobs.stored(stopped)
    activity.record(SYSTEM, "assignment_run.failed", "assignment_job", job_id, None, {"error": stopped.to_json()},
                    region_id=job.cycle.region_id)


def revive(job_id: int) -> None:
    """Staff retry the job; refused while another run of the cycle is under way."""
    job = db.session.get(AssignmentJob, job_id)
    assert job is not None
    _refuse_if_busy(job.cycle_id)
    job.status, job.stage, job.progress, job.message, job.finished_at = "queued", "queued", 0, "", None


def get_job(actor: Actor, job_id: int) -> AssignmentJob:
    actor.require(Role.STAFF, Role.ADMIN, Role.AUDITOR)
    job = db.session.get(AssignmentJob, job_id)
    if job is None:
        raise NotFound(_l("No such assignment run."))
    return job


def seats_by_item(run: AssignmentRun) -> dict[int, list[tuple[int, str]]]:
    seats: dict[int, list[tuple[int, str]]] = {}
    for item_id, expert_id, tier in run.result["seats"]:
        seats.setdefault(item_id, []).append((expert_id, tier))
    return seats


def place(item: ReviewItem, run: AssignmentRun, seats: list[tuple[int, str]], round_: int = 1) -> list[Assignment]:
    """Seat experts on an item after the existing ranks of their round; the caller logs and moves the item."""
    rank = db.session.scalar(db.select(db.func.max(Assignment.rank)).where(
        Assignment.item_id == item.id, Assignment.round == round_)) or 0
    placed = []
    for offset, (expert_id, tier) in enumerate(seats, start=1):
        assignment = Assignment(item_id=item.id, expert_id=expert_id, rank=rank + offset, round=round_, tier=tier,
                                run_id=run.id)
        db.session.add(assignment)
        placed.append(assignment)
    return placed


def notify_experts(run: AssignmentRun, expert_items: Counter[int], deadline: date) -> None:
    """Tell each newly seated expert how many items and by when (the cycle's review deadline, or an appeal's)."""
    users = dict(db.session.execute(db.select(User.expert_id, User.id).where(
        User.expert_id.in_(list(expert_items)))).all()) if expert_items else {}
    for expert_id, count in sorted(expert_items.items()):
        if expert_id in users:
            notify(kind="assignment", dedupe_key=f"assignment:{run.id}:{expert_id}", user_id=users[expert_id],
                   cycle=run.cycle.code, count=count, deadline=deadline.isoformat())


def apply(actor: Actor, job_id: int) -> AssignmentJob:
    """Seat the proposal's experts on its items, once, and only if the input is still what was solved."""
    actor.require(Role.STAFF, Role.ADMIN)
    job = db.session.scalars(db.select(AssignmentJob).where(AssignmentJob.id == job_id).with_for_update()).first()
    if job is None:
        raise NotFound(_l("No such assignment run."))
    if job.applied_at is not None:
        raise ServiceError(_l("This assignment run has already been applied."))
    if job.status != "done" or job.run is None:
        raise ServiceError(_l("This assignment run has no result to apply."))
    run = job.run
    round_ = ROUND_OF_KIND[job.kind]
    deadline = job.cycle.review_deadline  # an appeal panel's is its own, the same for every panel seated today
    items = assignable_items(job.cycle, for_update=True, kind=job.kind)
    if build_problem(job.cycle, items, round_=round_).input_hash() != run.input_hash:
        raise ServiceError(_l("The items awaiting a panel or the expert pool changed after this run was computed; "
                              "start a new run."))
    seats = seats_by_item(run)
    seated: Counter[int] = Counter()
    for item in items:
        if item.id not in seats:
            continue
        place(item, run, seats[item.id], round_)
        seated.update(expert_id for expert_id, _ in seats[item.id])
        if round_ == 2:
            deadline = start_appeal_review(actor, item, run.id, len(seats[item.id]))
        else:
            item.panel_seed = run.seed
            move(item, Action.ASSIGN, actor, {"run_id": run.id, "experts": len(seats[item.id])})
    job.applied_at, job.applied_by_id = utcnow(), actor.user_id
    activity.record(actor, "assignment_run.applied", "assignment_run", run.id, None,
                    {"job_id": job.id, "assigned_items": len(seats), "unfilled": len(run.result["unfilled"])},
                    region_id=job.cycle.region_id)
    notify_experts(run, seated, deadline)
    db.session.commit()
    return job


def start_appeal_review(actor: Actor, item: ReviewItem, run_id: int, experts: int) -> date:
    """The appeal panel is seated: the item and its appeal move on together (in the caller's transaction), and the
    panel's last day is fixed, the policy's `appeal_review_days` working days from today. Returns that day."""
    cycle = item.cycle
    due = holidays.working_days_after(cycle.region_id, region_today(cycle.region), cycle.policy.appeal_review_days)
    move(item, Action.START_APPEAL_REVIEW, actor, {"run_id": run_id, "experts": experts, "due_on": due.isoformat()})
    appeal = db.session.scalars(db.select(Appeal).where(Appeal.item_id == item.id, Appeal.state == "filed")).one()
    move_appeal(appeal, AppealAction.SEAT_PANEL, actor)
    appeal.review_due_on = due
    activity.record(actor, "appeal.panel_seated", "appeal", appeal.id, item.hospital_id,
                    {"run_id": run_id, "experts": experts, "due_on": due.isoformat()})
    return due


# --- verification ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    run_id: int
    input_intact: bool
    seed_matches: bool
    recomputed_hash: str
    stored_hash: str
    applied_match: bool | None
    versions_then: dict[str, str]
    versions_now: dict[str, str]

    @property
    def ok(self) -> bool:
        return (self.input_intact and self.seed_matches and self.recomputed_hash == self.stored_hash
                and self.applied_match is not False)


def verify(run_id: int) -> Verification:
    """Recompute a run from its stored input and seed, and compare with what was recorded and seated."""
    run = db.session.get(AssignmentRun, run_id)
    if run is None:
        raise NotFound(_l("No such assignment run."))
    problem = Problem.from_canonical(run.input)
    input_intact = canonical_hash(run.input) == run.input_hash == problem.input_hash()
    seed_matches = (run.kind not in JOB_KINDS
                    or draw_seed(run.published_value, run.cycle, run.input_hash, run.kind) == run.seed)
    config = Config(**run.config)
    recomputed = solve(problem, run.seed, config).assignment_hash()
    applied_match: bool | None = None
    placed = {(a.item_id, a.expert_id) for a in db.session.scalars(
        db.select(Assignment).where(Assignment.run_id == run.id))}
    if placed:
        applied_match = placed == {(item_id, expert_id) for item_id, expert_id, _ in run.result["seats"]}
    return Verification(run_id=run.id, input_intact=input_intact, seed_matches=seed_matches,
                        recomputed_hash=recomputed, stored_hash=run.assignment_hash, applied_match=applied_match,
                        versions_then=dict(run.library_versions), versions_now=library_versions())

