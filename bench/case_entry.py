"""Case entry throughput: cases/s through the service (validate, code-edit, group, price, insert, log)
against the bare msdrg grouping of the same cases in the same run.

Usage: python bench/case_entry.py [N]   (DATABASE_URL selects the database; default a temporary SQLite file)
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from review import create_app  # noqa: E402
from review.extensions import db  # noqa: E402
from review.services import cases  # noqa: E402
from tests.conftest import make_config  # noqa: E402
from tests.factories import ami_case, build_world  # noqa: E402


def main(size: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-"))
    url = os.environ.get("DATABASE_URL", f"sqlite:///{folder / 'bench.sqlite'}")
    app = create_app(make_config(url, folder / "uploads"))
    with app.app_context():
        db.drop_all()
        db.create_all()
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
        db.drop_all()
    rate, bare_rate = size / seconds, size / bare
    print(f"cases={size} seconds={seconds:.2f} cases_per_s={rate:.0f} baseline_group_per_s={bare_rate:.0f} "
          f"ratio={rate / bare_rate:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
