"""The supervision register: signed rows appended in the caller's transaction, checked by `verify_chain`.

A row's hash is an HMAC-SHA256 over every column (REGISTER_HMAC_KEY, its id stored with the row), so nobody without
the key can change, add or rebuild rows that still verify. Rows chain per region (DESIGN §10.6): at the commit of
the transaction that recorded them, a writer locks only its chains' head rows (`register_heads`), in chain order,
and moves them in that transaction, so a tail cut off a chain leaves its head ahead of the rows. Daily anchors (`write_anchors`), signed with a second key and kept outside the
database, catch even a key holder who rebuilt a chain: an anchored (seq, hash) is no longer in it.
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import Row, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction

from review import clock
from review.extensions import db
from review.models import ActivityLog, Hospital, Region, RegisterHead
from review.models.types import utcnow
from review.services.context import Actor

GENESIS = "0" * 64
GLOBAL_CHAIN = "global"
"""The chain of actions that name no hospital, and so no region."""
SIGNED_COLUMNS = ("at", "actor_id", "true_actor_id", "action", "object_type", "object_id", "hospital_id", "data",
                  "ip", "chain", "seq", "prev_hash")

_PENDING = "register_pending"
"""Key in `session.info`: the rows recorded in the transaction, chained and signed at its commit."""
_LOG = ActivityLog.__table__
_HEADS = RegisterHead.__table__
_SET_HEAD = (_HEADS.update().where(_HEADS.c.chain == db.bindparam("head_chain"))
             .values(hash=db.bindparam("head_hash"), key_id=db.bindparam("head_key_id"),
                     mac=db.bindparam("head_mac"), updated_at=db.bindparam("head_at")))


def _mac(key: bytes, fields: Mapping[str, object]) -> str:
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def row_mac(key: bytes, key_id: str, row: Mapping[str, object]) -> str:
    """The hash of a register row: every column but its id and the hash itself, and the id of the signing key."""
    fields = {name: row[name] for name in SIGNED_COLUMNS}
    fields["at"] = row["at"].isoformat()  # type: ignore[attr-defined]
    return _mac(key, {**fields, "key_id": key_id})


def head_mac(key: bytes, key_id: str, chain: str, seq: int, hash_: str) -> str:
    return _mac(key, {"head": chain, "seq": seq, "hash": hash_, "key_id": key_id})


def _signing_key() -> tuple[str, bytes]:
    return current_app.config["REGISTER_HMAC_KEY_ID"], current_app.config["REGISTER_HMAC_KEY"].encode()


def _keyring() -> dict[str, bytes]:
    """Every key a row may have been signed with: the retired ones and the current one."""
    key_id, key = _signing_key()
    return {**{old: value.encode() for old, value in current_app.config["REGISTER_HMAC_KEYS"].items()}, key_id: key}


def _chain_of(hospital_id: int | None, region_id: int | None) -> str:
    """The region's code, of the hospital's region or the one named: usually identity-map hits, as the caller has
    just loaded them. A row of no region (the expert pool, the DRG catalogue, the job runner) goes to `global`."""
    hospital = db.session.get(Hospital, hospital_id) if hospital_id is not None else None
    if hospital is not None:
        region_id = hospital.region_id
    region = db.session.get(Region, region_id) if region_id is not None else None
    return region.code if region is not None else GLOBAL_CHAIN


def _advance_head(chain: str, count: int, at: datetime) -> tuple[int, str]:
    """Reserve `count` seqs on the chain: the first of them and the hash before it. Locks the head row until commit.

    One upsert: a new chain's head is inserted, an existing one moves by `count` and gives back the hash it still
    holds. On PostgreSQL a concurrent writer of the same chain waits on this row, and only on this row; SQLite
    serialises writers anyway. UNIQUE(chain, seq) would refuse a fork all the same.
    """
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (insert(_HEADS).values(chain=chain, seq=count, hash=GENESIS, key_id="", mac="", updated_at=at)
                 .on_conflict_do_update(index_elements=["chain"], set_={"seq": _HEADS.c.seq + count})
                 .returning(_HEADS.c.seq, _HEADS.c.hash))
    last, prev_hash = db.session.execute(statement).one()
    return last - count + 1, prev_hash


def _sign(session: Session, rows: list[ActivityLog]) -> None:
    """Chain and sign `rows`, a chain at a time in chain order, so two transactions never wait on each other's
    heads in opposite orders; and add them to the session."""
    key_id, key = _signing_key()
    for chain, group in itertools.groupby(sorted(rows, key=lambda row: row.chain), key=lambda row: row.chain):
        chained = list(group)
        seq, prev_hash = _advance_head(chain, len(chained), chained[-1].at)
        for row in chained:
            row.seq, row.prev_hash, row.key_id = seq, prev_hash, key_id
            row.hash = prev_hash = row_mac(key, key_id, {name: getattr(row, name) for name in SIGNED_COLUMNS})
            seq += 1
        session.execute(_SET_HEAD, {"head_chain": chain, "head_hash": prev_hash, "head_key_id": key_id,
                                    "head_mac": head_mac(key, key_id, chain, seq - 1, prev_hash),
                                    "head_at": chained[-1].at})
        session.add_all(chained)


def record(actor: Actor, action: str, object_type: str, object_id: int | None,
           hospital_id: int | None = None, data: dict | None = None, *, region_id: int | None = None) -> ActivityLog:
    """Append a row to the register chain of the hospital's region, or of `region_id` for a region's own business
    (its cycles, periods, policy, calendar), or to the global one, at the caller's commit.

    The row is chained and signed when the transaction commits (`_sign_at_commit`): its chain's head is locked only
    for the commit itself. Inside a savepoint it is written at once, so that rolling the savepoint back takes it
    back too.
    """
    payload = json.loads(json.dumps(data or {}, default=str))  # store exactly what is signed
    if actor.token_id is not None:
        payload["api_token_id"] = actor.token_id
    row = ActivityLog(at=utcnow(), actor_id=actor.user_id, true_actor_id=actor.user_id, action=action,
                      object_type=object_type, object_id=object_id, hospital_id=hospital_id, data=payload,
                      ip=actor.ip, chain=_chain_of(hospital_id, region_id))
    session = db.session()
    if session.in_nested_transaction():
        _sign(session, [row])
    else:
        session.info.setdefault(_PENDING, []).append(row)
    return row


@event.listens_for(Session, "before_commit")
def _sign_at_commit(session: Session) -> None:
    if not session.in_nested_transaction():
        _sign(session, session.info.pop(_PENDING, []))


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    """A rolled-back transaction's rows were never written."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


PROBLEMS = {
    "changed": "row does not match its signature (changed, inserted or signed with another key)",
    "unknown_key": "row signed with a key not in the keyring",
    "link": "row does not link to the row before it",
    "missing": "rows missing",
    "no_head": "chain has rows but no head",
    "head_changed": "head does not match its signature",
    "tail_cut": "head is ahead of the last row: rows cut off the end",
    "beyond_head": "rows after the head",
    "anchor_forged": "anchor does not match its signature",
    "anchor_contradicted": "anchored row is no longer in the chain as it was",
}
"""What a finding means, for the operator reading `flask --app wsgi register verify`."""


@dataclass(frozen=True)
class Finding:
    chain: str
    seq: int | None
    problem: str
    detail: str = ""

    def __str__(self) -> str:
        where = f"chain {self.chain}" + (f" seq {self.seq}" if self.seq is not None else "")
        return f"{where}: {PROBLEMS[self.problem]}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class Anchor:
    """A chain's head on a day, signed with REGISTER_ANCHOR_KEY and kept outside the database."""

    chain: str
    seq: int
    hash: str
    day: str
    at: str
    sig: str = ""

    def signed(self) -> "Anchor":
        return Anchor(self.chain, self.seq, self.hash, self.day, self.at, self._signature())

    def _signature(self) -> str:
        fields = {name: value for name, value in asdict(self).items() if name != "sig"}
        return _mac(current_app.config["REGISTER_ANCHOR_KEY"].encode(), fields)

    def genuine(self) -> bool:
        return hmac.compare_digest(self.sig, self._signature())


def _consistent_snapshot() -> None:
    """On PostgreSQL read rows and heads in one snapshot, so a write committing meanwhile is no false finding."""
    if db.session.get_bind().dialect.name == "postgresql" and not db.session().in_transaction():
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def verify_chain(chain: str | None = None, anchors: Iterable[Anchor] = ()) -> list[Finding]:
    """Recompute every chain (or one) against its head and the anchors; an empty list means the register is intact.

    Finds a changed or inserted row (signature), a deleted one (a gap in seq), a cut tail (the head ahead of the
    last row), an emptied chain (a head and no rows) and, given anchors, a chain rebuilt since they were written.
    """
    _consistent_snapshot()
    ring = _keyring()
    findings: list[Finding] = []
    anchored: dict[str, dict[int, Anchor]] = {}
    for anchor in anchors:
        if chain is not None and anchor.chain != chain:
            continue
        if not anchor.genuine():
            findings.append(Finding(anchor.chain, anchor.seq, "anchor_forged", anchor.day))
        else:
            anchored.setdefault(anchor.chain, {})[anchor.seq] = anchor
    head_query = db.select(_HEADS)
    row_query = db.select(_LOG).order_by(_LOG.c.chain, _LOG.c.seq)
    if chain is not None:
        head_query, row_query = head_query.where(_HEADS.c.chain == chain), row_query.where(_LOG.c.chain == chain)
    heads = {head.chain: head for head in db.session.execute(head_query)}
    rows = db.session.execute(row_query.execution_options(yield_per=1000)).mappings()
    for name, chain_rows in itertools.groupby(rows, key=lambda row: row["chain"]):
        last = _verify_rows(name, chain_rows, ring, anchored.pop(name, {}), findings)
        findings += _verify_head(name, heads.pop(name, None), last, ring)
    for name, head in heads.items():
        findings.append(Finding(name, head.seq, "missing", f"head at {head.seq}, no rows at all"))
    for name, left in anchored.items():
        findings += [Finding(name, seq, "anchor_contradicted", anchor.day) for seq, anchor in sorted(left.items())]
    return findings


def _verify_rows(chain: str, rows: Iterable[Mapping], ring: dict[str, bytes], anchored: dict[int, Anchor],
                 findings: list[Finding]) -> Mapping | None:
    """Check one chain's rows in seq order, adding to `findings`; returns the last row (None: no rows)."""
    expected, prev_hash, last = 1, GENESIS, None
    for row in rows:
        seq = row["seq"]
        if seq != expected:
            findings.append(Finding(chain, expected, "missing", f"seq {expected}–{seq - 1}"))
        elif row["prev_hash"] != prev_hash:
            findings.append(Finding(chain, seq, "link"))
        key = ring.get(row["key_id"])
        if key is None:
            findings.append(Finding(chain, seq, "unknown_key", row["key_id"]))
        elif not hmac.compare_digest(row["hash"], row_mac(key, row["key_id"], row)):
            findings.append(Finding(chain, seq, "changed"))
        anchor = anchored.pop(seq, None)
        if anchor is not None and anchor.hash != row["hash"]:
            findings.append(Finding(chain, seq, "anchor_contradicted", anchor.day))
        expected, prev_hash, last = seq + 1, row["hash"], row
    return last


def _verify_head(chain: str, head: Row[Any] | None, last: Mapping | None, ring: dict[str, bytes]) -> list[Finding]:
    if head is None:
        return [Finding(chain, None, "no_head")] if last is not None else []
    findings = []
    key = ring.get(head.key_id)
    if key is None or not hmac.compare_digest(head.mac, head_mac(key, head.key_id, chain, head.seq, head.hash)):
        findings.append(Finding(chain, head.seq, "head_changed"))
    last_seq = last["seq"] if last is not None else 0
    if head.seq > last_seq:
        findings.append(Finding(chain, last_seq + 1, "tail_cut", f"head at seq {head.seq}"))
    elif head.seq < last_seq:
        findings.append(Finding(chain, head.seq + 1, "beyond_head", f"last row at seq {last_seq}"))
    elif last is not None and head.hash != last["hash"]:
        findings.append(Finding(chain, last_seq, "head_changed", "hash differs from the last row"))
    return findings


def write_anchors(directory: Path) -> list[Anchor]:
    """Append every chain's head, signed, to today's anchor file (one JSON line each; safe to run twice a day)."""
    from review.services.calendar import today_in_region  # calendar records to the register: import when used

    day, at = today_in_region().isoformat(), clock.utcnow().isoformat()
    anchors = [Anchor(head.chain, head.seq, head.hash, day, at).signed()
               for head in db.session.scalars(db.select(RegisterHead).order_by(RegisterHead.chain))]
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / f"register-{day}.jsonl").open("a", encoding="utf-8") as handle:
        handle.writelines(json.dumps(asdict(anchor), sort_keys=True) + "\n" for anchor in anchors)
    return anchors


def read_anchors(path: Path) -> list[Anchor]:
    """The anchors in a file, or in every `*.jsonl` file of a directory."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    return [Anchor(**json.loads(line)) for file in files
            for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
