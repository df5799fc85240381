"""Case entry one at a time through the service (validate, code-edit, group, price, insert, log, commit),
against the bare grouping of the same cases in the same run.

Usage: python bench/case_entry.py [N]
"""
from __future__ import annotations

import sys
import time

from common import bench_app

from review.extensions import db
from review.services import cases
from tests.factories import ami_case, build_world


def main(size: int) -> None:
    app = bench_app()
    with app.app_context():
        world = build_world()
        inputs = [ami_case(case_no=f"B{n:08d}") for n in range(size)]
        started = time.perf_counter()
        for data in inputs:
            cases.group_coding(data)
        bare = time.perf_counter() - started
        started = time.perf_counter()
        for data in inputs:
            cases.create_case(world.actors["hosp1"], data)
        seconds = time.perf_counter() - started
        db.session.remove()
    rate, bare_rate = size / seconds, size / bare
    print(f"cases={size} seconds={seconds:.2f} cases_per_s={rate:.0f} baseline_group_per_s={bare_rate:.0f} "
          f"ratio={rate / bare_rate:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
