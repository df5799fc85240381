"""register: HMAC over every column, chains per region with a signed head

Revision ID: 0016
Revises: 0015

`activity_log` gains `chain` (the region's code, `global` for rows that name no hospital), `seq` (1, 2, 3 … per
chain, UNIQUE with the chain) and `key_id`; `register_heads` holds each chain's last seq and hash, signed.

Existing rows are re-signed here, once, with the configured REGISTER_HMAC_KEY: the old unkeyed SHA-256 chain is
first verified by the old algorithm and the upgrade stops, naming the rows, if it does not verify, so a register
that was tampered with is never laundered into a signed one. There is no command that re-signs afterwards. The
downgrade verifies the signed chains and restores the old format the same way.

Both algorithms are kept here in full, so the migration never changes when application code does;
tests/integration/test_register.py checks that rows migrated here verify with `review.services.activity`.
"""
import hashlib
import hmac
import json
from datetime import timezone

import sqlalchemy as sa
from alembic import op
from flask import current_app

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

GENESIS = '0' * 64
GLOBAL_CHAIN = 'global'
LEGACY_COLUMNS = ('id', 'at', 'actor_id', 'true_actor_id', 'action', 'object_type', 'object_id', 'hospital_id', 'data',
                  'ip', 'prev_hash', 'hash')
SIGNED_COLUMNS = ('at', 'actor_id', 'true_actor_id', 'action', 'object_type', 'object_id', 'hospital_id', 'data',
                  'ip', 'chain', 'seq', 'prev_hash')

LOG = sa.table('activity_log', sa.column('id', sa.Integer()), sa.column('at', sa.DateTime()),
               sa.column('actor_id', sa.Integer()), sa.column('true_actor_id', sa.Integer()),
               sa.column('action', sa.String()), sa.column('object_type', sa.String()),
               sa.column('object_id', sa.Integer()), sa.column('hospital_id', sa.Integer()),
               sa.column('data', sa.JSON()), sa.column('ip', sa.String()), sa.column('chain', sa.String()),
               sa.column('seq', sa.Integer()), sa.column('key_id', sa.String()), sa.column('prev_hash', sa.String()),
               sa.column('hash', sa.String()))
HEADS = sa.table('register_heads', sa.column('chain', sa.String()), sa.column('seq', sa.Integer()),
                 sa.column('hash', sa.String()), sa.column('key_id', sa.String()), sa.column('mac', sa.String()),
                 sa.column('updated_at', sa.DateTime()))
HOSPITALS = sa.table('hospitals', sa.column('id', sa.Integer()), sa.column('region_id', sa.Integer()))
REGIONS = sa.table('regions', sa.column('id', sa.Integer()), sa.column('code', sa.String()))

SQLITE_GUARDS = [
    "CREATE TRIGGER activity_log_no_update BEFORE UPDATE ON activity_log "
    "BEGIN SELECT RAISE(ABORT, 'activity_log is append-only'); END",
    "CREATE TRIGGER activity_log_no_delete BEFORE DELETE ON activity_log "
    "BEGIN SELECT RAISE(ABORT, 'activity_log is append-only'); END",
]


def _aware(at):
    return at.replace(tzinfo=timezone.utc)  # stored as naive UTC, read back aware (UTCDateTime)


def _json(fields):
    return json.dumps(fields, sort_keys=True, separators=(',', ':'), default=str, ensure_ascii=False)


def legacy_digest(row):
    """The unkeyed hash of revisions 0001–0015."""
    return hashlib.sha256(_json([row['prev_hash'], _aware(row['at']).isoformat(), row['actor_id'], row['action'],
                                 row['object_type'], row['object_id'], row['hospital_id'], row['data']]).encode()
                          ).hexdigest()


def _mac(key, fields):
    return hmac.new(key, _json(fields).encode(), hashlib.sha256).hexdigest()


def signed_digest(key, key_id, row):
    fields = {name: row[name] for name in SIGNED_COLUMNS}
    fields['at'] = _aware(row['at']).isoformat()
    return _mac(key, {**fields, 'key_id': key_id})


def _keys():
    config = current_app.config
    ring = {key_id: key.encode() for key_id, key in config['REGISTER_HMAC_KEYS'].items()}
    ring[config['REGISTER_HMAC_KEY_ID']] = config['REGISTER_HMAC_KEY'].encode()
    return config['REGISTER_HMAC_KEY_ID'], ring


def _refuse_if_broken(broken, algorithm):
    if broken:
        raise RuntimeError(
            f'activity_log does not verify by the {algorithm} algorithm at rows {broken[:20]} ({len(broken)} in '
            'all): find out what happened to them before migrating; the register is only re-signed when intact')


def _set(rows, columns):
    """Write re-signed rows past the append-only guard, which the owner running migrations may lift."""
    if not rows:
        return
    bind = op.get_bind()
    postgresql = bind.dialect.name == 'postgresql'
    if postgresql:
        op.execute('ALTER TABLE activity_log DISABLE TRIGGER activity_log_append_only')
    else:
        op.execute('DROP TRIGGER activity_log_no_update')
    bind.execute(LOG.update().where(LOG.c.id == sa.bindparam('row_id'))
                 .values({name: sa.bindparam(f'new_{name}') for name in columns}),
                 [{'row_id': row['id'], **{f'new_{name}': row[name] for name in columns}} for row in rows])
    if postgresql:
        op.execute('ALTER TABLE activity_log ENABLE TRIGGER activity_log_append_only')
    else:
        op.execute(SQLITE_GUARDS[0])


def _legacy_register():
    """The rows as 0001–0015 wrote them, with their hospital's region; refused unless their chain verifies."""
    query = (sa.select(*(LOG.c[name] for name in LEGACY_COLUMNS), REGIONS.c.code.label('region_code'))
             .select_from(LOG.outerjoin(HOSPITALS, HOSPITALS.c.id == LOG.c.hospital_id)
                          .outerjoin(REGIONS, REGIONS.c.id == HOSPITALS.c.region_id))
             .order_by(LOG.c.id))
    rows = [dict(row) for row in op.get_bind().execute(query).mappings()]
    prev_hash, broken = GENESIS, []
    for row in rows:
        if row['prev_hash'] != prev_hash or row['hash'] != legacy_digest(row):
            broken.append(row['id'])
        prev_hash = row['hash']
    _refuse_if_broken(broken, 'unkeyed SHA-256')
    return rows


def _resign(rows):
    key_id, ring = _keys()
    heads = {}
    for row in rows:
        chain = row['region_code'] or GLOBAL_CHAIN
        seq, prev_hash = heads.get(chain, (0, GENESIS))
        row.update(chain=chain, seq=seq + 1, prev_hash=prev_hash, key_id=key_id)
        row['hash'] = signed_digest(ring[key_id], key_id, row)
        heads[chain] = (row['seq'], row['hash'])
    _set(rows, ('chain', 'seq', 'key_id', 'prev_hash', 'hash'))
    now = sa.func.current_timestamp()
    for chain, (seq, hash_) in heads.items():
        mac = _mac(ring[key_id], {'head': chain, 'seq': seq, 'hash': hash_, 'key_id': key_id})
        op.get_bind().execute(HEADS.insert().values(chain=chain, seq=seq, hash=hash_, key_id=key_id, mac=mac,
                                                    updated_at=now))


def upgrade():
    rows = _legacy_register()  # before any change: SQLite's DDL is not undone when the upgrade stops
    op.create_table('register_heads',
    sa.Column('chain', sa.String(length=40), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('mac', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('chain', name=op.f('pk_register_heads'))
    )
    with op.batch_alter_table('activity_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('key_id', sa.String(length=16), nullable=True))
    _resign(rows)
    with op.batch_alter_table('activity_log', schema=None) as batch_op:
        batch_op.alter_column('chain', existing_type=sa.String(length=40), nullable=False)
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('key_id', existing_type=sa.String(length=16), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_activity_log_chain'), ['chain', 'seq'])
    _restore_sqlite_guards()


def _restore_sqlite_guards():
    """SQLite's batch mode rebuilds the table, and a table's triggers go with it."""
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('DROP TRIGGER IF EXISTS activity_log_no_update')
        op.execute('DROP TRIGGER IF EXISTS activity_log_no_delete')
        for statement in SQLITE_GUARDS:
            op.execute(statement)


def downgrade():
    bind = op.get_bind()
    rows = [dict(row) for row in bind.execute(sa.select(LOG).order_by(LOG.c.chain, LOG.c.seq)).mappings()]
    _, ring = _keys()
    heads = {row.chain: row for row in bind.execute(sa.select(HEADS))}
    broken, last = [], {}
    for row in rows:
        seq, prev_hash = last.get(row['chain'], (0, GENESIS))
        key = ring.get(row['key_id'])
        if (row['seq'] != seq + 1 or row['prev_hash'] != prev_hash or key is None
                or row['hash'] != signed_digest(key, row['key_id'], row)):
            broken.append(row['id'])
        last[row['chain']] = (row['seq'], row['hash'])
    broken += [f"head {chain}" for chain, head in heads.items() if last.get(chain) != (head.seq, head.hash)]
    _refuse_if_broken(broken, 'HMAC')
    prev_hash = GENESIS
    for row in sorted(rows, key=lambda row: row['id']):
        row['prev_hash'] = prev_hash
        row['hash'] = prev_hash = legacy_digest(row)
    _set(rows, ('prev_hash', 'hash'))
    with op.batch_alter_table('activity_log', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_activity_log_chain'), type_='unique')
        batch_op.drop_column('key_id')
        batch_op.drop_column('seq')
        batch_op.drop_column('chain')
    _restore_sqlite_guards()
    op.drop_table('register_heads')
