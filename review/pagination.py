"""Page through a select statement the same way on every list page."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, request
from sqlalchemy import Select, func, select

from review.extensions import db


@dataclass(frozen=True)
class Page:
    items: list[Any]
    page: int
    pages: int
    total: int


def paginate(query: Select, *, rows: bool = False) -> Page:
    """The requested page of `query`: its first column's objects, or with `rows` whole result rows (a select of
    several entities)."""
    size = current_app.config["PAGE_SIZE"]
    page = max(1, request.args.get("page", 1, type=int) or 1)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    pages = max(1, -(-total // size))
    page = min(page, pages)
    window = query.limit(size).offset((page - 1) * size)
    items = list(db.session.execute(window).all() if rows else db.session.scalars(window))
    return Page(items=items, page=page, pages=pages, total=total)
