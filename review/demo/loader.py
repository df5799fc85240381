"""Load the demo dataset through the real services, so the demo exercises the same rules as production."""
from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import inspect
from weasyprint import HTML

from review.auth import hash_password
from review.extensions import db
from review.models import (Cycle, CycleVolume, Decision, DrgAverageCost, DrgCatalogue, Expert, ExpertConflict, Hospital,
                           Policy, Region, ReviewItem, SpecialtyRelation, User)
from review.models.types import utcnow
from review.services import applications, assignment_runs, cases, decisions, documents, holidays, reviews, sampling
from review.services.catalogue import MS_DRG_SCHEME, load_weights
from review.services.context import SYSTEM, Actor
from review.demo import dataset
from workflows.sampling import PlanConfig
from workflows.states import Role

DEMO_PASSWORD = "demo-review-2026"
PUBLISHED_VALUE = "demo-lottery-2026Q3-0815"
SHOWN = 5
"""How many foreign records a refusal names per kind."""


def foreign_data() -> list[str]:
    """What the database holds that the demo dataset does not (regions, hospitals, users), named, at most SHOWN of
    each kind: `demo --reset` drops every table, so anything listed here is a bureau's data and stops it."""
    demo = {Region: ({dataset.REGION.code}, Region.code), Hospital: ({h.code for h in dataset.HOSPITALS}, Hospital.code),
            User: ({u.username for u in (*dataset.USERS, *dataset.EXPERTS)}, User.username)}
    found: list[str] = []
    if not inspect(db.engine).has_table(Region.__tablename__):
        return found  # nothing migrated yet
    for model, (known, column) in demo.items():
        others = db.session.scalars(db.select(column).where(column.not_in(known)).order_by(column)).all()
        if others:
            found.append(f"{len(others)} {model.__tablename__} not in the demo ({', '.join(others[:SHOWN])}"
                         f"{', …' if len(others) > SHOWN else ''})")
    return found


def _evidence_pdf(case: dataset.CaseSeed) -> bytes:
    html = (f"<h1>Discharge summary (demo)</h1><p>Case {case.case_no}</p>"
            f"<p>Admitted {case.admission}, discharged {case.discharge}.</p>"
            f"<p>Principal diagnosis {case.principal_dx}; secondary {', '.join(case.secondary_dx)}; "
            f"procedures {', '.join(case.procedures)}.</p>")
    return HTML(string=html).write_pdf()


def _reference_data() -> tuple[Region, dict[str, Hospital]]:
    seed = dataset.REGION
    region = Region(code=seed.code, name_en=seed.name_en, name_zh=seed.name_zh, timezone=seed.timezone)
    db.session.add(region)
    db.session.flush()
    db.session.add(Policy(region_id=region.id, version=1, base_rate_fen=seed.base_rate_fen))
    hospitals = {}
    for h in dataset.HOSPITALS:
        hospitals[h.code] = Hospital(region_id=region.id, code=h.code, name_en=h.name_en, name_zh=h.name_zh,
                                     level=h.level, coefficient=h.coefficient)
        db.session.add(hospitals[h.code])
    load_weights(current_app.config["DRG_WEIGHTS_FILE"])
    db.session.flush()
    # Demo only: the average cost per DRG is taken as weight x base rate (no historical cases to average).
    for drg, weight in db.session.execute(db.select(DrgCatalogue.drg, DrgCatalogue.weight).where(
            DrgCatalogue.scheme == MS_DRG_SCHEME)):
        db.session.add(DrgAverageCost(region_id=region.id, drg=drg, case_count=0,
                                      average_cost_fen=int(Decimal(weight) * seed.base_rate_fen)))
    return region, hospitals


def _people(hospitals: dict[str, Hospital]) -> None:
    password = hash_password(DEMO_PASSWORD)
    experts: dict[str, int] = {}
    for e in dataset.EXPERTS:
        expert = Expert(code=e.username.replace("expert", "E0"), name_en=e.name_en, name_zh=e.name_zh, title=e.title,
                        hospital_id=hospitals[e.hospital_code].id, specialties=list(e.specialties))
        db.session.add(expert)
        db.session.flush()
        experts[e.username] = expert.id
        db.session.add(User(username=e.username, password_hash=password, role="expert", display_name=e.name_en,
                            expert_id=expert.id))
    for specialty, stand_in in dataset.RELATED_SPECIALTIES:
        db.session.add(SpecialtyRelation(specialty=specialty, stand_in=stand_in))
        db.session.add(SpecialtyRelation(specialty=stand_in, stand_in=specialty))
    for username, hospital_code, reason in dataset.DECLARED_CONFLICTS:
        db.session.add(ExpertConflict(expert_id=experts[username], hospital_id=hospitals[hospital_code].id,
                                      starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31), reason=reason))
    for u in dataset.USERS:
        db.session.add(User(username=u.username, password_hash=password, role=u.role, display_name=u.display_name,
                            hospital_id=hospitals[u.hospital_code].id if u.hospital_code else None,
                            hospital_admin=u.role == "hospital"))


def _cycle(region: Region) -> Cycle:
    """Quarter 2026Q3; the application window is kept open around today so the demo can be used at any time."""
    today = utcnow().date()
    opens = min(date(2026, 10, 1), today - timedelta(days=7))
    closes = max(date(2026, 10, 22), today + timedelta(days=30))
    cycle = Cycle(region_id=region.id, code="2026Q3", quarter_start=date(2026, 7, 1), quarter_end=date(2026, 9, 30),
                  application_opens=opens, application_closes=closes, record_upload_deadline=closes + timedelta(days=10),
                  review_deadline=closes + timedelta(days=30), settlement_date=closes + timedelta(days=60),
                  status="open", policy_snapshot=region.current_policy().snapshot())
    db.session.add(cycle)
    db.session.flush()
    # DRG discharges per hospital in the quarter, as the payer's settlement data would give them (quota base).
    for hospital in db.session.scalars(db.select(Hospital).where(Hospital.region_id == region.id)):
        discharges = {"tertiary": 8000, "secondary": 2500, "primary": 600}[hospital.level]
        db.session.add(CycleVolume(cycle_id=cycle.id, hospital_id=hospital.id, drg_discharges=discharges,
                                   source="override", override_reason="Demo: the payer's settlement figure"))
    return cycle


def _actor_for(username: str) -> Actor:
    user = db.session.scalars(db.select(User).where(User.username == username)).one()
    return Actor(user_id=user.id, role=Role(user.role), hospital_id=user.hospital_id, expert_id=user.expert_id)


def load() -> dict[str, int]:
    region, hospitals = _reference_data()
    _people(hospitals)
    cycle = _cycle(region)
    db.session.commit()
    holidays.seed(SYSTEM, region.id)
    counts = {"cases": 0, "applications": 0}
    for seed in dataset.CASES:
        actor = _actor_for(f"hosp_{seed.hospital_code.lower()}")
        case = cases.create_case(actor, cases.CaseInput(
            case_no=seed.case_no, age=seed.age, sex=seed.sex, admission_date=seed.admission,
            discharge_date=seed.discharge, principal_dx=seed.principal_dx, secondary_dx=seed.secondary_dx,
            procedures=seed.procedures, total_cost_fen=int(seed.total_cost_yuan * 100), icu_days=seed.icu_days))
        counts["cases"] += 1
        if seed.application is None:
            continue
        item = applications.apply_for_case(actor, case.id, seed.application.category, seed.application.reason)
        documents.upload_evidence(actor, item.id, io.BytesIO(_evidence_pdf(seed)), f"{seed.case_no}-summary.pdf",
                                  "discharge_summary")
        if item.state == "draft":  # the policy wants more than the summary for this category: the list, then submit
            for kind in applications.missing_evidence(item):
                documents.upload_evidence(actor, item.id, io.BytesIO(_evidence_pdf(seed)),
                                          f"{seed.case_no}-{kind}.pdf", kind)
            applications.submit(actor, item.id)
        counts["applications"] += 1
    _advance_some(cycle)
    return counts


def _advance_some(cycle: Cycle) -> None:
    """Draw the panels, complete two reviews and issue one decision, so every screen has something to show."""
    staff = _actor_for("staff")
    job = assignment_runs.start(staff, cycle.id, PUBLISHED_VALUE)  # runs at once: demo tasks are eager
    assignment_runs.apply(staff, job.id)
    experts = {u.expert_id: u.username for u in db.session.scalars(db.select(User).where(User.role == "expert"))}
    assigned = db.session.scalars(db.select(ReviewItem).where(
        ReviewItem.cycle_id == cycle.id, ReviewItem.state == "assigned").order_by(ReviewItem.id).limit(2)).all()
    for item in assigned:
        for assignment in list(item.assignments):
            reviews.save_sheet(_actor_for(experts[assignment.expert_id]), assignment.id, reviews.SheetInput(
                recommendation="approve", unreasonable_cost_fen=500_000 if assignment.rank == 1 else 300_000,
                rationale="Costs supported by the ICU and device records; some drug costs not justified.",
                cost_reasons="Antibiotics beyond the documented indication.", lock_version=0), submit=True)
    first = db.session.scalars(db.select(Decision).order_by(Decision.id).limit(1)).first()
    if first is not None:
        decisions.open_reasons(staff, first.id)  # the office reads the panel's reasons before it issues
        decisions.issue(staff, first.id)
    sampling.create_plan(staff, cycle.id, PlanConfig(share=Decimal("0.2"), min_per_hospital=1, top_cost_ratio=2),
                         PUBLISHED_VALUE)
