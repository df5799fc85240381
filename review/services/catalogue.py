"""Load the DRG weight table and look up weights and average costs for a region."""
from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from review.extensions import db
from review.models import DrgAverageCost, DrgCatalogue

MS_DRG_SCHEME = "MS-DRG v43"


def load_weights(path: str | Path, scheme: str = MS_DRG_SCHEME) -> int:
    """Insert the catalogue rows that are missing; re-running it changes nothing."""
    existing = set(db.session.scalars(db.select(DrgCatalogue.drg).where(DrgCatalogue.scheme == scheme)))
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["drg"] in existing or not row["weight"]:
                continue  # 998/999 (invalid, ungroupable) carry no weight and are never paid
            rows.append({"scheme": scheme, "drg": row["drg"], "mdc": row["mdc"], "drg_type": row["type"],
                         "title": row["title"], "weight": Decimal(row["weight"]),
                         "gmlos": Decimal(row["gmlos"]) if row["gmlos"] else None,
                         "amlos": Decimal(row["amlos"]) if row["amlos"] else None})
    if rows:  # one multi-row insert: the catalogue has some 770 rows
        db.session.execute(db.insert(DrgCatalogue), rows)
    return len(rows)


def catalogue_entry(drg: str, scheme: str = MS_DRG_SCHEME) -> DrgCatalogue | None:
    return db.session.scalars(
        db.select(DrgCatalogue).where(DrgCatalogue.scheme == scheme, DrgCatalogue.drg == drg)
    ).first()


def average_cost_fen(region_id: int, drg: str) -> int | None:
    return db.session.scalars(
        db.select(DrgAverageCost.average_cost_fen).where(
            DrgAverageCost.region_id == region_id, DrgAverageCost.drg == drg)
    ).first()
