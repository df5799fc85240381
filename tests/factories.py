"""A small, realistic world for service and web tests: one region, three hospitals, six experts, one cycle."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from flask import current_app

from review import clock
from review.auth import hash_password
from review.extensions import db
from review.models import Cycle, CycleVolume, DrgAverageCost, DrgCatalogue, Expert, Hospital, Policy, Region, User
from review.services.cases import CaseInput
from review.services.catalogue import load_weights
from review.services.context import Actor
from workflows.states import Role

PASSWORD = "correct horse battery"
BASE_RATE_FEN = 1_800_000


@dataclass
class World:
    region_id: int
    cycle_id: int
    hospitals: dict[str, int]
    users: dict[str, int] = field(default_factory=dict)
    actors: dict[str, Actor] = field(default_factory=dict)
    experts: dict[str, int] = field(default_factory=dict)


def _user(world: World, username: str, role: str, hospital: str | None = None, expert: str | None = None,
          hospital_admin: bool = False) -> None:
    user = User(username=username, password_hash=_HASH, role=role, display_name=username.title(),
                hospital_admin=hospital_admin,
                hospital_id=world.hospitals[hospital] if hospital else None,
                expert_id=world.experts[expert] if expert else None)
    db.session.add(user)
    db.session.flush()
    world.users[username] = user.id
    world.actors[username] = Actor(user_id=user.id, role=Role(role), hospital_id=user.hospital_id,
                                   expert_id=user.expert_id, ip="127.0.0.1")


_HASH = hash_password(PASSWORD)


def build_world() -> World:
    region = Region(code="T01", name_en="Test Pooling Area", name_zh="测试统筹区")
    db.session.add(region)
    db.session.flush()
    # Secondary-hospital experts qualify here, so the six-expert pool can seat three on every hospital's items.
    # No evidence is required before screening, so tests about other things apply in one step; the evidence rule
    # has its own tests (tests/integration/test_evidence_required.py), on the default policy.
    db.session.add(Policy(region_id=region.id, version=1, base_rate_fen=BASE_RATE_FEN,
                          panel_hospital_levels=["tertiary", "secondary"], required_evidence={}))
    hospitals = {}
    for code, level, coefficient in (("H1", "tertiary", "1.10"), ("H2", "tertiary", "1.00"),
                                     ("H3", "secondary", "0.90")):
        hospital = Hospital(region_id=region.id, code=code, name_en=f"Hospital {code}", name_zh=f"{code}医院",
                            level=level, coefficient=Decimal(coefficient))
        db.session.add(hospital)
        db.session.flush()
        hospitals[code] = hospital.id
    load_weights(current_app.config["DRG_WEIGHTS_FILE"])
    db.session.flush()
    db.session.execute(db.insert(DrgAverageCost), [
        {"region_id": region.id, "drg": drg, "case_count": 10, "average_cost_fen": int(Decimal(weight) * BASE_RATE_FEN)}
        for drg, weight in db.session.execute(db.select(DrgCatalogue.drg, DrgCatalogue.weight))])
    today = clock.today_in(region.timezone)  # the frozen test clock (tests/conftest.py), in Beijing days
    cycle = Cycle(region_id=region.id, code="2026Q3", quarter_start=date(2026, 7, 1), quarter_end=date(2026, 9, 30),
                  application_opens=today - timedelta(days=5), application_closes=today + timedelta(days=10),
                  review_deadline=today + timedelta(days=40), status="open",
                  policy_snapshot=region.current_policy().snapshot())
    db.session.add(cycle)
    db.session.flush()
    for hospital_id in hospitals.values():
        db.session.add(CycleVolume(cycle_id=cycle.id, hospital_id=hospital_id, drg_discharges=2000))
    world = World(region_id=region.id, cycle_id=cycle.id, hospitals=hospitals)
    for index, (hospital, title) in enumerate([("H1", "chief_physician"), ("H1", "deputy_chief_physician"),
                                               ("H2", "chief_physician"), ("H2", "deputy_chief_physician"),
                                               ("H3", "deputy_chief_physician"), ("H3", "attending_physician")],
                                              start=1):
        expert = Expert(code=f"E{index:03d}", name_en=f"Dr Expert {index}", name_zh=f"专家{index}", title=title,
                        hospital_id=hospitals[hospital], specialties=["cardiology"])
        db.session.add(expert)
        db.session.flush()
        world.experts[f"expert{index}"] = expert.id
        _user(world, f"expert{index}", "expert", expert=f"expert{index}")
    _user(world, "hosp1", "hospital", hospital="H1", hospital_admin=True)
    _user(world, "hosp1clerk", "hospital", hospital="H1")
    _user(world, "hosp2", "hospital", hospital="H2")
    for role in ("staff", "admin", "auditor"):
        _user(world, role, role)
    db.session.commit()
    seed_calendar(world, today)
    return world


CALENDAR_REACH = timedelta(days=90)
"""How far past the world's today a test may count working days (a decision issued near the review deadline, plus
its appeal days): the calendar covers the years from today to today + this."""


def seed_calendar(world: World, today: date) -> None:
    """Give the world the working-day calendar its deadlines are counted in (decisions refuse to issue without it).

    Years chinese-calendar knows get its days. A year it does not know yet (2027 on, with 1.11.0: the clock_shift
    runs move the clock 400 days either way, and today + CALENDAR_REACH crosses into next year) is marked covered
    by its 1 January, a holiday fixed by law (元旦, 全国年节及纪念日放假办法), as an admin would begin entering the
    State Council's notice: that year then counts Monday to Friday without its other holidays, which no test relies
    on. Written as rows like the rest of the world (the services would also write register rows, which tests of
    the register count); tests about an empty calendar start with `clear_calendar`.
    """
    from review.models import Holiday
    from review.services import holidays

    years = set(range(today.year, (today + CALENDAR_REACH).year + 1))
    rows = [Holiday(region_id=world.region_id, day=day, kind=entry.kind, name=entry.name, source=holidays.PACKAGE)
            for day, entry in sorted(holidays.PACKAGE_DAYS.items()) if day.year in years]
    rows += [Holiday(region_id=world.region_id, day=date(year, 1, 1), kind="holiday", name="元旦",
                     source=holidays.ADMIN, created_by_id=world.users["admin"])
             for year in sorted(years - set(holidays.PACKAGE_YEARS))]
    db.session.add_all(rows)
    db.session.commit()


def clear_calendar(world: World) -> None:
    """The world without its working-day calendar, for tests about a calendar that has to be built first."""
    from review.models import Holiday

    db.session.execute(db.delete(Holiday).where(Holiday.region_id == world.region_id))
    db.session.commit()


def ami_case(**overrides: object) -> CaseInput:
    """An acute MI with a stent and heart failure (DRG 321), costed far above the DRG payment."""
    values: dict[str, object] = dict(
        case_no="ZY2026080001", age=67, sex="M", admission_date=date(2026, 8, 1), discharge_date=date(2026, 8, 20),
        principal_dx="I21.4", secondary_dx=("I50.21", "N17.9"), procedures=("02703DZ",),
        total_cost_fen=40_000_000, icu_days=4)
    values.update(overrides)
    return CaseInput(**values)  # type: ignore[arg-type]


def seat_panels(world: World, published_value: str = "12345", actor: str = "staff"):  # type: ignore[no-untyped-def]
    """Start an assignment run for the world's cycle (eager in tests) and apply it; returns the job."""
    from review.services import assignment_runs

    job = assignment_runs.start(world.actors[actor], world.cycle_id, published_value)
    return assignment_runs.apply(world.actors[actor], job.id)
