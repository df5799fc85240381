"""The supervision register cannot be quietly rewritten (issue 12 §5, DESIGN §10.6).

Each test writes a small register through `activity.record`, changes it behind the application's back the way an
operator with database access could (the append-only triggers lifted: dropped on SQLite, `session_replication_role
= replica` as the PostgreSQL superuser), and checks that `register verify` names the chain and seq. On PostgreSQL
the application's own role cannot do any of that (the grants test), writers on different chains do not wait for
each other and writers on one chain never fork it.
"""
from __future__ import annotations

import importlib.util
import json
import multiprocessing
from datetime import datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path
from types import ModuleType

import pytest
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from review import create_app
from review.extensions import db
from review.models import ActivityLog, RegisterHead
from review.services import activity, calendar, ledger, periods
from review.services.activity import Finding, read_anchors, row_mac, verify_chain, write_anchors
from review.services.context import SYSTEM
from tests.conftest import BACKENDS, PG_URL, blank_database, empty_postgresql, make_config
from tests.factories import World, build_world
from workflows.ledger import EntryPlan, Line

ROWS = 4
"""Rows written to each of the two chains: the region's (T01) and the global one."""


def _write_register(world: World) -> None:
    staff, hospital = world.actors["staff"], world.hospitals["H1"]
    for n in range(ROWS):
        activity.record(staff, "test.hospital", "hospital", hospital, hospital, {"n": n})
        activity.record(staff, "test.global", "cycle", world.cycle_id, None, {"n": n})
    db.session.commit()


def _behind_the_guard(*statements: str, **params: object) -> None:
    """Run statements the append-only triggers refuse, as someone who can lift them, and commit."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        for trigger in ("activity_log_no_update", "activity_log_no_delete"):
            db.session.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
    for statement in statements:
        db.session.execute(text(statement), params)
    db.session.commit()


def _rebuild(chain: str, key: bytes, key_id: str = "1") -> None:
    """Re-sign a whole chain and its head with `key`, as someone rewriting the register would."""
    prev_hash, values = activity.GENESIS, {}
    rows = db.session.execute(db.select(ActivityLog.__table__).where(ActivityLog.chain == chain)
                              .order_by(ActivityLog.seq)).mappings().all()
    for row in rows:
        values = {**row, "prev_hash": prev_hash}
        prev_hash = row_mac(key, key_id, values)
        _behind_the_guard("UPDATE activity_log SET prev_hash = :prev, hash = :hash WHERE id = :id",
                          prev=values["prev_hash"], hash=prev_hash, id=row["id"])
    db.session.execute(db.update(RegisterHead).where(RegisterHead.chain == chain).values(
        hash=prev_hash, mac=activity.head_mac(key, key_id, chain, values["seq"], prev_hash)))
    db.session.commit()


def test_rows_chain_per_region_with_a_head_and_verify(world: World) -> None:
    _write_register(world)
    rows = db.session.scalars(db.select(ActivityLog).order_by(ActivityLog.chain, ActivityLog.seq)).all()
    assert [(row.chain, row.seq, row.data["n"]) for row in rows] == [
        (chain, n + 1, n) for chain in ("T01", "global") for n in range(ROWS)]
    assert rows[0].prev_hash == activity.GENESIS and rows[1].prev_hash == rows[0].hash
    heads = {head.chain: (head.seq, head.hash) for head in db.session.scalars(db.select(RegisterHead))}
    assert heads == {"T01": (ROWS, rows[ROWS - 1].hash), "global": (ROWS, rows[-1].hash)}
    assert verify_chain() == []


@pytest.mark.parametrize(("tampering", "expected"), [
    ("UPDATE activity_log SET data = '{\"n\": 99}' WHERE chain = 'T01' AND seq = 2", ("T01", 2, "changed")),
    ("UPDATE activity_log SET ip = '10.6.6.6' WHERE chain = 'T01' AND seq = 2", ("T01", 2, "changed")),
    ("UPDATE activity_log SET true_actor_id = NULL WHERE chain = 'global' AND seq = 3", ("global", 3, "changed")),
    ("UPDATE activity_log SET at = at WHERE chain = 'T01' AND seq = 2", None),  # touching nothing is no finding
    ("DELETE FROM activity_log WHERE chain = 'T01' AND seq = 2", ("T01", 2, "missing")),
    ("DELETE FROM activity_log WHERE chain = 'T01' AND seq >= 3", ("T01", 3, "tail_cut")),
])
def test_a_changed_or_deleted_row_is_found_by_chain_and_seq(world: World, tampering: str,
                                                            expected: tuple | None) -> None:
    _write_register(world)
    _behind_the_guard(tampering)
    found = {(finding.chain, finding.seq, finding.problem) for finding in verify_chain()}
    assert found == ({expected} if expected else set())


def test_a_cut_tail_with_its_head_set_back_is_found(world: World) -> None:
    _write_register(world)
    second = db.session.scalars(db.select(ActivityLog.hash).where(ActivityLog.chain == "T01",
                                                                  ActivityLog.seq == 2)).one()
    _behind_the_guard("DELETE FROM activity_log WHERE chain = 'T01' AND seq > 2",
                      "UPDATE register_heads SET seq = 2, hash = :hash WHERE chain = 'T01'", hash=second)
    assert verify_chain() == [Finding("T01", 2, "head_changed")]


def test_an_inserted_row_is_found(world: World) -> None:
    _write_register(world)
    last = db.session.scalars(db.select(ActivityLog).where(ActivityLog.chain == "T01", ActivityLog.seq == ROWS)).one()
    forged = {"at": last.at, "actor_id": None, "true_actor_id": None, "action": "decision.issued",
              "object_type": "review_item", "object_id": 1, "hospital_id": last.hospital_id, "data": {},
              "ip": None, "chain": "T01", "seq": ROWS + 1, "key_id": "1", "prev_hash": last.hash}
    forged["hash"] = row_mac(b"a guessed key", "1", forged)
    columns = ", ".join(forged)
    _behind_the_guard(f"INSERT INTO activity_log ({columns}) VALUES ({', '.join(':' + name for name in forged)})",
                      **{**forged, "at": last.at.replace(tzinfo=None), "data": "{}"})
    assert set(verify_chain()) == {Finding("T01", ROWS + 1, "changed"),
                                   Finding("T01", ROWS + 1, "beyond_head", f"last row at seq {ROWS + 1}")}


def test_an_emptied_register_is_found_by_its_heads(world: World) -> None:
    _write_register(world)
    _behind_the_guard("TRUNCATE activity_log" if db.engine.dialect.name == "postgresql" else "DELETE FROM activity_log")
    assert {(f.chain, f.problem) for f in verify_chain()} == {("T01", "missing"), ("global", "missing")}


def test_a_chain_rebuilt_without_the_key_does_not_verify(world: World) -> None:
    _write_register(world)
    _behind_the_guard("UPDATE activity_log SET data = '{\"n\": 99}' WHERE chain = 'T01' AND seq = 2")
    _rebuild("T01", b"not the register key")
    found = verify_chain()
    assert Finding("T01", ROWS, "head_changed") in found
    assert {f.seq for f in found if f.problem == "changed"} == set(range(1, ROWS + 1))


def test_a_chain_rebuilt_with_the_key_contradicts_its_anchor(app: Flask, world: World, tmp_path: Path) -> None:
    _write_register(world)
    anchored = write_anchors(tmp_path / "anchors")
    assert {(a.chain, a.seq) for a in anchored} == {("T01", ROWS), ("global", ROWS)}
    _behind_the_guard("UPDATE activity_log SET data = '{\"n\": 99}' WHERE chain = 'T01' AND seq = 2")
    _rebuild("T01", app.config["REGISTER_HMAC_KEY"].encode())
    assert verify_chain() == []  # the key holder's rebuild is whole: only an anchor kept elsewhere can tell
    day = anchored[0].day
    found = verify_chain(anchors=read_anchors(tmp_path / "anchors"))
    assert found == [Finding("T01", ROWS, "anchor_contradicted", day)]


def test_celery_beat_anchors_every_chain_daily(app: Flask, world: World, tmp_path: Path) -> None:
    from review.tasks import anchor_register

    assert app.config["CELERY"]["beat_schedule"]["register-anchor"]["task"] == anchor_register.name
    _write_register(world)
    app.config["REGISTER_ANCHOR_DIR"] = str(tmp_path / "beat")
    anchor_register.delay()  # eager in tests, as the worker runs it when beat sends it
    assert {(a.chain, a.seq) for a in read_anchors(tmp_path / "beat")} == {("T01", ROWS), ("global", ROWS)}


def test_a_forged_anchor_is_refused(world: World, tmp_path: Path) -> None:
    _write_register(world)
    write_anchors(tmp_path / "anchors")
    (anchor_file,) = (tmp_path / "anchors").glob("*.jsonl")
    line = json.loads(anchor_file.read_text().splitlines()[0])
    anchor_file.write_text(json.dumps({**line, "seq": 1}) + "\n")
    assert [f.problem for f in verify_chain(anchors=read_anchors(anchor_file))] == ["anchor_forged"]


def test_a_retired_key_still_verifies_what_it_signed(app: Flask, world: World) -> None:
    _write_register(world)
    old_key = app.config["REGISTER_HMAC_KEY"]
    app.config.update(REGISTER_HMAC_KEY_ID="2", REGISTER_HMAC_KEY="a-new-register-key-of-32-characters")
    assert {f.problem for f in verify_chain()} == {"unknown_key", "head_changed"}
    app.config["REGISTER_HMAC_KEYS"] = {"1": old_key}
    activity.record(SYSTEM, "test.after_rotation", "test", None)
    db.session.commit()
    assert verify_chain() == []
    assert db.session.scalars(db.select(ActivityLog.key_id).order_by(ActivityLog.id.desc())).first() == "2"


def test_cli_verify_names_the_chain_and_seq_and_checks_anchors(app: Flask, world: World, tmp_path: Path) -> None:
    _write_register(world)
    runner = app.test_cli_runner()
    anchored = runner.invoke(args=["register", "anchor", "--out", str(tmp_path)])
    assert anchored.exit_code == 0 and "2 chains anchored" in anchored.output
    intact = runner.invoke(args=["register", "verify", "--anchors", str(tmp_path)])
    assert intact.exit_code == 0 and "register intact against 2 anchors" in intact.output
    _behind_the_guard("DELETE FROM activity_log WHERE chain = 'global' AND seq = 3")
    for args in (["register", "verify"], ["activity", "verify"]):
        broken = runner.invoke(args=args)
        assert broken.exit_code == 1 and "chain global seq 3: rows missing" in broken.output
    assert runner.invoke(args=["register", "verify", "--chain", "T01"]).exit_code == 0


def _migration() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0016_register_head.py"
    spec = importlib.util.spec_from_file_location("register_migration", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


LEGACY_AT = datetime(2026, 11, 1, 8, 30, 15, 123456)  # naive UTC, as stored


def legacy_hash(row: dict) -> str:
    """The hash revisions 0001–0015 gave a row (`data` as read back: text on SQLite's raw reads)."""
    data = json.loads(row["data"]) if isinstance(row["data"], str) else row["data"]
    at = row["at"] if isinstance(row["at"], datetime) else datetime.fromisoformat(row["at"])
    return _migration().legacy_digest({**row, "data": data, "at": at})


def _legacy_rows(broken: bool) -> None:
    """A register as revisions 0001–0015 wrote it: one unkeyed SHA-256 chain in id order."""
    db.session.execute(text("INSERT INTO regions (id, code, name_en, name_zh, timezone) "
                            "VALUES (1, 'T01', 'Test', '测试', 'Asia/Shanghai')"))
    db.session.execute(text("INSERT INTO hospitals (id, region_id, code, name_en, name_zh, level, coefficient) "
                            "VALUES (1, 1, 'H1', 'H1', 'H1', 'tertiary', 1)"))
    prev_hash = activity.GENESIS
    for n, hospital_id in enumerate((1, None, 1)):
        row = {"at": LEGACY_AT, "actor_id": None, "action": "test.legacy", "object_type": "test", "object_id": n,
               "hospital_id": hospital_id, "data": {"n": n}, "prev_hash": prev_hash}
        row["hash"] = prev_hash = legacy_hash(row) if not (broken and n == 1) else "f" * 64
        db.session.execute(text("INSERT INTO activity_log (at, actor_id, action, object_type, object_id, hospital_id, "
                                "data, prev_hash, hash) VALUES (:at, :actor_id, :action, :object_type, :object_id, "
                                ":hospital_id, :data, :prev_hash, :hash)"), {**row, "data": json.dumps(row["data"])})
    db.session.commit()




@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_re_signs_an_intact_legacy_register_and_refuses_a_broken_one(
        backend: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    for broken in (False, True):
        url = blank_database(backend, tmp_path / f"legacy-{broken}.sqlite")
        app = create_app(make_config(url, tmp_path))
        with app.app_context():
            upgrade(revision="0015")
            _legacy_rows(broken)
            if broken:
                with pytest.raises(SystemExit):  # Flask-Migrate logs the migration's error and exits
                    upgrade(revision="0016")
                assert "does not verify by the unkeyed SHA-256 algorithm at rows [2]" in capfd.readouterr().err
            else:
                upgrade(revision="0016")
                rows = db.session.execute(text("SELECT chain, seq FROM activity_log ORDER BY id")).all()
                assert [tuple(row) for row in rows] == [("T01", 1), ("global", 1), ("T01", 2)]
                assert verify_chain() == []
                signed = db.session.scalars(text("SELECT hash FROM activity_log ORDER BY id")).all()
                db.session.commit()
                downgrade(revision="0015")  # back to the unkeyed chain, which the old code verifies
                legacy = db.session.execute(text("SELECT * FROM activity_log ORDER BY id")).mappings().all()
                assert [row["hash"] for row in legacy] == [legacy_hash(row) for row in legacy] != signed
            db.session.remove()
            db.engine.dispose()
    if backend == "postgresql":
        empty_postgresql(PG_URL)


CANNOT = (
    "ALTER TABLE activity_log DISABLE TRIGGER ALL",
    "TRUNCATE activity_log",
    "UPDATE activity_log SET action = 'x'",
    "DELETE FROM activity_log",
    "DELETE FROM register_heads",
    "SET session_replication_role = replica",
    "CREATE TABLE shadow (id integer)",
    "DROP TRIGGER activity_log_append_only ON activity_log",
)


@pytest.mark.parametrize("backend", [backend for backend in BACKENDS if backend == "postgresql"])
def test_the_application_role_appends_but_cannot_rewrite(backend: str, tmp_path: Path) -> None:
    url = blank_database(backend, tmp_path / "unused")
    owner = create_app(make_config(url, tmp_path / "uploads"))
    with owner.app_context():
        db.session.execute(text("DO $$ BEGIN CREATE ROLE review_app LOGIN; "
                                "EXCEPTION WHEN duplicate_object THEN NULL; END $$"))
        db.session.commit()
        upgrade()
        granted = owner.test_cli_runner().invoke(args=["grants", "apply", "--role", "review_app"])
        assert granted.exit_code == 0, granted.output
        again = owner.test_cli_runner().invoke(args=["grants", "apply", "--role", "review_app"])
        assert again.exit_code == 0 and again.output == granted.output  # idempotent
        db.session.remove()
        db.engine.dispose()
    app_url = make_url(url).set(username="review_app", password=None).render_as_string(hide_password=False)
    application = create_app(make_config(app_url, tmp_path / "uploads"))
    with application.app_context():
        build_world()
        activity.record(SYSTEM, "test.by_the_application", "hospital", 1, 1)
        ledger.post(EntryPlan("grants:1", "test", (Line("fund:T01", 100), Line("hospital:H1", -100))), "2026Q4",
                    None, None)
        db.session.commit()
        assert verify_chain() == []
        db.session.remove()
        db.engine.dispose()
    engine = create_engine(app_url)
    for statement in CANNOT:
        with engine.connect() as connection, pytest.raises(DBAPIError, match="permission denied|must be owner"):
            connection.execute(text(statement))
    engine.dispose()
    empty_postgresql(PG_URL)


@pytest.mark.postgresql_only("roles are PostgreSQL's")
def test_grants_name_what_to_run_when_the_role_is_missing(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["grants", "apply", "--role", "no_such_role"])
    assert result.exit_code == 1 and "CREATE ROLE no_such_role LOGIN" in result.output


@pytest.mark.postgresql_only("SQLite serialises every writer")
def test_writers_on_two_chains_do_not_wait_for_each_other(app: Flask, world: World) -> None:
    hospital = world.hospitals["H1"]
    with db.session.begin_nested():  # in a savepoint the row is written at once: T01's head stays locked
        activity.record(world.actors["staff"], "test.open", "hospital", hospital, hospital)
    with app.app_context():  # a second session on its own connection, as another web process
        db.session.execute(text("SET LOCAL lock_timeout = '5s'"))
        activity.record(SYSTEM, "test.other_chain", "cycle", world.cycle_id)
        db.session.commit()  # the global chain went ahead
        db.session.execute(text("SET LOCAL lock_timeout = '50ms'"))
        activity.record(SYSTEM, "test.same_chain", "hospital", hospital, hospital)
        with pytest.raises(OperationalError, match="lock timeout"):
            db.session.commit()
        db.session.rollback()
    db.session.commit()
    assert verify_chain() == []
    assert db.session.scalar(db.select(db.func.count()).select_from(ActivityLog)) == 2


def test_rows_of_a_transaction_are_chained_at_its_commit_and_dropped_with_its_rollback(world: World) -> None:
    hospital = world.hospitals["H1"]
    activity.record(SYSTEM, "test.rolled_back", "hospital", hospital, hospital)
    db.session.rollback()
    activity.record(SYSTEM, "test.global_first", "cycle", world.cycle_id)
    activity.record(SYSTEM, "test.region", "hospital", hospital, hospital)
    activity.record(SYSTEM, "test.global_second", "cycle", world.cycle_id)
    assert db.session.scalar(db.select(db.func.count()).select_from(ActivityLog)) == 0  # nothing locked yet
    db.session.commit()
    rows = db.session.execute(db.select(ActivityLog.action, ActivityLog.chain, ActivityLog.seq)
                              .order_by(ActivityLog.chain, ActivityLog.seq)).all()
    assert [tuple(row) for row in rows] == [("test.region", "T01", 1), ("test.global_first", "global", 1),
                                            ("test.global_second", "global", 2)]
    assert verify_chain() == []


WRITERS, WRITES = 3, 15


def _write(url: str, upload_dir: str, hospital_id: int, start: Barrier) -> None:
    application = create_app(make_config(url, Path(upload_dir)))
    with application.app_context():
        start.wait()
        for n in range(WRITES):
            activity.record(SYSTEM, "test.concurrent", "hospital", hospital_id, hospital_id, {"n": n})
            db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.mark.wall_clock
@pytest.mark.postgresql_only("SQLite serialises every writer")
def test_concurrent_writers_never_fork_a_chain(app: Flask, world: World, tmp_path: Path) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    before = db.session.scalar(db.select(db.func.count()).where(ActivityLog.chain == "T01"))
    db.session.remove()
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WRITERS)
    hospitals = [world.hospitals["H1"], world.hospitals["H2"], world.hospitals["H1"]]  # one region, one chain
    processes = [context.Process(target=_write, args=(url, str(tmp_path), hospital, start)) for hospital in hospitals]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
    assert [process.exitcode for process in processes] == [0] * WRITERS
    seqs = db.session.scalars(db.select(ActivityLog.seq).where(ActivityLog.chain == "T01").order_by(ActivityLog.seq))
    assert list(seqs) == list(range(1, before + WRITERS * WRITES + 1))
    assert verify_chain() == []


def test_a_region_s_own_business_is_chained_in_the_region_and_only_what_has_none_is_global(world: World) -> None:
    """A period's close and a cycle's calendar events name no hospital but belong to their region: they wait on
    its chain's head, never on the one head every region shares."""
    periods.ensure(world.region_id, "2026Q3")  # the period its cycle opens (the world's cycle is made directly)
    periods.close(world.actors["staff"], "T01", "2026Q3")
    calendar.run(calendar.today_in_region())
    activity.record(SYSTEM, "catalogue.checked", "drg_catalogue", None)  # the DRG catalogue is no region's
    db.session.commit()
    chains = {action: chain for action, chain in db.session.execute(db.select(ActivityLog.action, ActivityLog.chain))}
    assert chains["ledger.period_closed"] == "T01"
    assert chains["cycle.application_window_opened"] == "T01"
    assert chains["catalogue.checked"] == "global"
    assert verify_chain() == []
