"""Decision letters through the product's path (letter_html: database reads, template, translations; then
html_to_pdf with the static-only URL fetcher), against bare WeasyPrint rendering of the same HTML strings in the
same run, so the ratio shows what the product adds on top of WeasyPrint itself.

The N issued decisions are written straight into the scratch database (one case grouped by the service, cloned
N times; items and decisions inserted as rows, cycling through all six letter kinds): the benchmark measures the
letters, not the review workflow that produces decisions, which other benchmarks and the tests cover.

Usage: python bench/pdf.py [N]   (default 1000; BENCH_DATABASE_URL as in bench/common.py)
"""
from __future__ import annotations

import sys
import time
from datetime import timedelta
from decimal import Decimal

from common import bench_app
from weasyprint import HTML

from review.extensions import db
from review.models import Case, Cycle, Decision, ReviewItem, SamplingPlan
from review.models.types import utcnow
from review.pdf import html_to_pdf
from review.services import cases
from review.services.catalogue import catalogue_entry
from review.services.letters import letter_html
from tests.factories import BASE_RATE_FEN, ami_case, build_world
from workflows.payment import drg_payment_fen

KINDS = ("approved", "partially_approved", "rejected", "confirmed", "regrouped", "admission_unjustified")
CASE_FIELDS = ("hospital_id", "age", "sex", "admission_date", "discharge_date", "los_days", "principal_dx",
               "secondary_dx", "procedures", "total_cost_fen", "icu_days", "mcc_codes", "drg", "drg_weight",
               "drg_payment_fen", "grouper_version", "created_by_id")


def build_decisions(size: int) -> list[int]:
    """N issued decisions of H1, one per case, in the order of KINDS repeated."""
    world = build_world()
    template = cases.create_case(world.actors["hosp1"], ami_case(case_no="B00000000"))
    cycle = db.session.get(Cycle, world.cycle_id)
    plan = SamplingPlan(cycle_id=cycle.id, config={}, published_value="bench", population=[], population_size=0,
                        population_sha256="0" * 64, seed="0" * 64, algorithm_version="bench", sample_sha256="0" * 64,
                        strata=[])
    db.session.add(plan)
    db.session.flush()
    regrouped = catalogue_entry("322")
    assert regrouped is not None
    regrouped_payment = drg_payment_fen(Decimal(regrouped.weight), BASE_RATE_FEN, template.hospital.coefficient)
    now = utcnow()
    decision_rows = []
    for n in range(size):
        outcome = KINDS[n % len(KINDS)]
        record = outcome in ("confirmed", "regrouped", "admission_unjustified")
        case = template if n == 0 else Case(case_no=f"B{n:08d}",
                                            **{f: getattr(template, f) for f in CASE_FIELDS})
        db.session.add(case)
        item = ReviewItem(kind="sampled_record" if record else "application", case=case,
                          hospital_id=template.hospital_id, cycle_id=cycle.id, state="issued", issued_version=1,
                          category=None if record else "high_cost", sampling_plan_id=plan.id if record else None,
                          stratum="bench" if record else None)
        db.session.add(item)
        deduction = 2_000_000 if outcome == "partially_approved" else 0
        amount = {"approved": case.total_cost_fen - case.drg_payment_fen,
                  "partially_approved": case.total_cost_fen - deduction - case.drg_payment_fen,
                  "regrouped": regrouped_payment - case.drg_payment_fen,
                  "admission_unjustified": -case.drg_payment_fen}.get(outcome, 0)
        after = ({"drg_after": "322", "drg_weight_after": str(regrouped.weight),
                  "drg_payment_after_fen": regrouped_payment} if outcome == "regrouped" else
                 {"drg_after": case.drg, "drg_weight_after": str(case.drg_weight),
                  "drg_payment_after_fen": case.drg_payment_fen} if record else {})
        coding = ({"principal_dx": {"before": case.principal_dx, "after": "I2109" if outcome == "regrouped"
                                    else case.principal_dx, "decided_by": "majority" if outcome == "regrouped"
                                    else "unchanged"}} if record else None)
        decision_rows.append(Decision(
            item=item, version=1, status="issued", outcome=outcome, approvals=1 if outcome in (
                "rejected", "admission_unjustified") else 3, panel_size=3, deduction_fen=deduction, drg=case.drg,
            drg_payment_fen=case.drg_payment_fen, total_cost_fen=case.total_cost_fen, amount_fen=amount,
            admission_justified=(outcome != "admission_unjustified") if record else None, coding=coding,
            vote_snapshot={"k": 3}, verification_code=f"BENCH{n:011d}", issued_at=now,
            appeal_deadline=now.date() + timedelta(days=10), **after))
        db.session.add(decision_rows[-1])
        if n % 500 == 499:
            db.session.flush()
    db.session.commit()
    return [d.id for d in decision_rows]


def main(size: int) -> None:
    app = bench_app()
    with app.app_context():
        ids = build_decisions(size)
        db.session.expunge_all()  # each letter reads its decision, case, hospital and cycle as in production
        warm = db.session.get(Decision, ids[0])
        html_to_pdf(letter_html(warm, "zh_CN"))  # fonts loaded and cached once, for both runs alike
        HTML(string=letter_html(warm, "zh_CN")).write_pdf()
        db.session.expunge_all()
        htmls: list[str] = []
        started = time.perf_counter()
        for decision_id in ids:
            html = letter_html(db.session.get(Decision, decision_id), "zh_CN")
            html_to_pdf(html)
            htmls.append(html)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        for html in htmls:
            HTML(string=html).write_pdf()
        bare = time.perf_counter() - started
        db.session.remove()
    rate, bare_rate = size / seconds, size / bare
    print(f"letters={size} seconds={seconds:.2f} letters_per_s={rate:.2f} baseline_letters_per_s={bare_rate:.2f} "
          f"ratio={rate / bare_rate:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
