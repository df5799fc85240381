"""Record-review sampling: the population snapshot, the seeded draw, the sampled items, and re-verification.

The population is every case of the cycle's quarter not already sampled in the cycle. Its snapshot and hash
are stored with the plan, the seed is derived from a value staff publish before the draw and that hash, so
anyone can re-draw from the stored plan (`flask sampling verify PLAN_ID`) and obtain the same cases.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext as _l

from review.extensions import db
from review.models import Case, Cycle, Decision, DrgAverageCost, Hospital, ReviewItem, SamplingPlan
from review.services import activity
from review.services.cycles import cycle_for_draw
from review.services.context import Actor, NotFound, ServiceError
from review.services.items import get_item, move
from review.services.notifications import notify
from workflows.extrapolation import Report, ReviewedRecord, StratumInput, extrapolate
from workflows.sampling import ALGORITHM_VERSION, PlanConfig, Sample, Unit, draw, draw_seed, population_hash
from workflows.states import Action, ItemKind, Role, State

SHORT_STAY_DAYS = 2
HIGH_WEIGHT = Decimal("2.0")
"""A stay of two days or less in a DRG of weight 2 or more is a classic upcoding signal."""


def _units(cycle: Cycle) -> list[Unit]:
    sampled = db.select(ReviewItem.case_id).where(ReviewItem.cycle_id == cycle.id,
                                                  ReviewItem.kind == ItemKind.SAMPLED_RECORD.value)
    averages = dict(db.session.execute(db.select(DrgAverageCost.drg, DrgAverageCost.average_cost_fen).where(
        DrgAverageCost.region_id == cycle.region_id)).all())
    cases = db.session.scalars(db.select(Case).join(Hospital).where(
        Hospital.region_id == cycle.region_id, Case.discharge_date >= cycle.quarter_start,
        Case.discharge_date <= cycle.quarter_end, Case.id.not_in(sampled)).order_by(Case.id))
    units = []
    for case in cases:
        average = averages.get(case.drg)
        # Without an average the case cannot be ranked by cost ratio; it stays in the random strata.
        ratio = (Decimal(case.total_cost_fen) / Decimal(average)).quantize(Decimal("0.0001"), ROUND_HALF_UP) \
            if average else Decimal(0)
        units.append(Unit(case_id=case.id, hospital_id=case.hospital_id, paid_fen=case.drg_payment_fen,
                          cost_ratio=ratio, drg_mismatch=case.drg_mismatch, single_mcc=len(case.mcc_codes or []) == 1,
                          short_stay_high_weight=case.los_days <= SHORT_STAY_DAYS and Decimal(case.drg_weight) >= HIGH_WEIGHT))
    return units


def _snapshot(units: list[Unit]) -> list[list]:
    return [[u.case_id, u.hospital_id, u.paid_fen, str(u.cost_ratio), u.drg_mismatch, u.single_mcc,
             u.short_stay_high_weight] for u in units]


def _from_snapshot(rows: list[list]) -> list[Unit]:
    return [Unit(case_id=r[0], hospital_id=r[1], paid_fen=r[2], cost_ratio=Decimal(r[3]), drg_mismatch=r[4],
                 single_mcc=r[5], short_stay_high_weight=r[6]) for r in rows]


def create_plan(actor: Actor, cycle_id: int, config: PlanConfig, published_value: str) -> SamplingPlan:
    """Snapshot, seed, draw, and open one sampled item per drawn case, all in one transaction."""
    cycle, published_value = cycle_for_draw(actor, cycle_id, published_value)
    units = _units(cycle)
    if not units:
        raise ServiceError(_l("Cycle %(code)s has no unsampled cases to draw from.", code=cycle.code))
    population_sha256 = population_hash(units)
    seed = draw_seed(published_value, population_sha256)
    sample = draw(units, config, seed)
    plan = SamplingPlan(cycle_id=cycle.id, created_by_id=actor.user_id, config=config.as_dict(),
                        published_value=published_value, population=_snapshot(units), population_size=len(units),
                        population_sha256=population_sha256, seed=seed, algorithm_version=ALGORITHM_VERSION,
                        sample_sha256=sample.sample_hash, strata=_strata(sample))
    db.session.add(plan)
    db.session.flush()
    activity.record(actor, "sampling.drawn", "sampling_plan", plan.id, None, {
        "cycle": cycle.code, "published_value": published_value, "population_sha256": population_sha256,
        "seed": seed, "sample_sha256": sample.sample_hash, "config": plan.config, "selected": len(sample.selections)},
                    region_id=cycle.region_id)
    hospitals = dict(db.session.execute(db.select(Case.id, Case.hospital_id).where(
        Case.id.in_([s.case_id for s in sample.selections]))).all())
    per_hospital: dict[int, int] = {}
    for selection in sample.selections:
        item = ReviewItem(kind=ItemKind.SAMPLED_RECORD.value, case_id=selection.case_id,
                          hospital_id=hospitals[selection.case_id], cycle_id=cycle.id, state=State.SELECTED.value,
                          sampling_plan_id=plan.id, stratum=selection.stratum)
        db.session.add(item)
        db.session.flush()
        move(item, Action.REQUEST_RECORDS, actor, {"plan_id": plan.id, "stratum": selection.stratum})
        per_hospital[item.hospital_id] = per_hospital.get(item.hospital_id, 0) + 1
    deadline = cycle.record_upload_deadline
    for hospital_id, count in sorted(per_hospital.items()):
        notify(kind="records_requested", dedupe_key=f"sampled:{plan.id}:{hospital_id}", hospital_id=hospital_id,
               cycle=cycle.code, count=count, deadline=deadline.isoformat() if deadline else None)
    db.session.commit()
    return plan


def _strata(sample: Sample) -> list[dict]:
    return [{"name": s.name, "population_size": s.population_size, "population_paid_fen": s.population_paid_fen,
             "sample_size": s.sample_size} for s in sample.strata]


@dataclass(frozen=True)
class Verification:
    population_ok: bool
    seed_ok: bool
    sample_ok: bool
    items_ok: bool

    @property
    def ok(self) -> bool:
        return self.population_ok and self.seed_ok and self.sample_ok and self.items_ok


def verify_plan(plan_id: int) -> Verification:
    """Re-draw from the stored snapshot and compare every hash and the sampled items in the database."""
    plan = db.session.get(SamplingPlan, plan_id)
    if plan is None:
        raise NotFound(_l("No such sampling plan."))
    units = _from_snapshot(plan.population)
    population_ok = population_hash(units) == plan.population_sha256
    seed_ok = draw_seed(plan.published_value, plan.population_sha256) == plan.seed
    sample = draw(units, PlanConfig.from_dict(plan.config), plan.seed)
    stored = set(db.session.execute(db.select(ReviewItem.case_id, ReviewItem.stratum).where(
        ReviewItem.sampling_plan_id == plan.id)).all())
    return Verification(population_ok=population_ok, seed_ok=seed_ok, sample_ok=sample.sample_hash == plan.sample_sha256,
                        items_ok=stored == {(s.case_id, s.stratum) for s in sample.selections})


def submit_records(actor: Actor, item_id: int) -> ReviewItem:
    """The hospital declares a sampled record complete; it needs at least one uploaded document."""
    actor.require(Role.HOSPITAL)
    item = get_item(actor, item_id, for_update=True)
    if item.kind != ItemKind.SAMPLED_RECORD.value:
        raise ServiceError(_l("Only sampled records are submitted this way."))
    if not item.documents_count():
        raise ServiceError(_l("Upload the medical record before submitting it."))
    move(item, Action.RECEIVE_RECORDS, actor)
    db.session.commit()
    return item


def extrapolation(actor: Actor, plan_id: int) -> Report:
    """The report of DESIGN §7.2 from the plan's strata and the issued decisions of its sampled records."""
    actor.require(Role.STAFF, Role.ADMIN, Role.AUDITOR)
    plan = db.session.get(SamplingPlan, plan_id)
    if plan is None:
        raise NotFound(_l("No such sampling plan."))
    reviewed: dict[str, list[ReviewedRecord]] = {s["name"]: [] for s in plan.strata}
    rows = db.session.execute(db.select(ReviewItem.stratum, Case.drg_payment_fen, Decision.amount_fen)
                              .join(Case, Case.id == ReviewItem.case_id)
                              .join(Decision, (Decision.item_id == ReviewItem.id)  # a discarded correction
                                    & (Decision.version == ReviewItem.issued_version)  # shares its number
                                    & (Decision.status != "discarded"))
                              .where(ReviewItem.sampling_plan_id == plan.id))
    for stratum, paid, amount in rows:
        reviewed[stratum].append(ReviewedRecord(paid_fen=paid, overpaid_fen=-amount))  # a recovery is negative
    strata = [StratumInput(name=s["name"], population_size=s["population_size"],
                           population_paid_fen=s["population_paid_fen"], reviewed=tuple(reviewed[s["name"]]))
              for s in plan.strata if s["population_size"] > 0]
    return extrapolate(strata, min_reviewed=plan_cycle(plan).policy.min_reviewed_for_extrapolation)


def plan_cycle(plan: SamplingPlan) -> Cycle:
    cycle = db.session.get(Cycle, plan.cycle_id)
    assert cycle is not None
    return cycle

