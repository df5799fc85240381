"""Row checks spread over processes: grouping is CPU-bound and the GIL would keep a large file on one core."""
from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import chain, islice

from workflows.grouping import Grouper, MsDrgGrouper
from workflows.row_check import RowCheck, RowRules, check_row

CHUNK = 2000
_worker_grouper: MsDrgGrouper | None = None


def _start_worker() -> None:
    global _worker_grouper
    _worker_grouper = MsDrgGrouper()


def _check_chunk(chunk: list[tuple[int, dict[str, str]]], rules: RowRules) -> list[RowCheck]:
    assert _worker_grouper is not None
    return [check_row(row, values, _worker_grouper, rules) for row, values in chunk]


def checked_rows(rows: Iterable[tuple[int, dict[str, str]]], grouper: Grouper, workers: int,
                 rules: RowRules = RowRules(), chunk_size: int = CHUNK) -> Iterator[RowCheck]:
    """Row checks in input order. Runs in this process for inputs of one chunk or less, when one worker is
    asked for, or when this process may not have children (a Celery prefork child is daemonic)."""
    iterator = iter(rows)
    first = list(islice(iterator, chunk_size))
    if workers <= 1 or len(first) < chunk_size or multiprocessing.current_process().daemon:
        for row, values in chain(first, iterator):
            yield check_row(row, values, grouper, rules)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker) as pool:
        pending: deque[Future[list[RowCheck]]] = deque([pool.submit(_check_chunk, first, rules)])
        while chunk := list(islice(iterator, chunk_size)):
            pending.append(pool.submit(_check_chunk, chunk, rules))
            if len(pending) >= 2 * workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
