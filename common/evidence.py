"""Evidence that the database itself keeps from change: triggers, installed by migrations.

Receipts, the receipt log's entries and nodes, checkpoints, audit events and
delivery attempts are written once. The application never changes or deletes
them, and on PostgreSQL the database refuses it too, whoever asks: a row trigger
refuses UPDATE and DELETE, and a statement trigger refuses TRUNCATE by any role
but the table's owner. Two tables change in one way only: a signing key may be
retired once (its `retired_at` set, nothing else), and the log head's
`tree_size` may only grow. Every trigger is ENABLEd ALWAYS, so it fires under
`session_replication_role = replica` too.

Only the owner may write signing keys at all: a role that could insert one could
publish a key of its own, and what it signed would verify as the operator's.

When a transaction commits, the receipt log it leaves must be the tree its head
claims: every leaf stored, nothing beyond the head, every node the right hash.

The database, not the application, dates each audit event.

A role that owns the tables can drop these triggers: they bind the application
when it runs as a role that does not (docs/operating.md, "The database roles").
Django's test teardown empties tables with TRUNCATE as their owner, which the
TRUNCATE trigger lets through and row triggers never see.

SQLite (the embedded default) gets no triggers: Django empties an SQLite test
database with DELETE, and the file belongs to whoever runs the operator anyway.

Migrations call these functions: what they write is part of migration history,
so change it only by adding new functions for new migrations.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import ProjectState

REFUSE_CHANGE = "omadata_refuse_change"
REFUSE_TRUNCATE = "omadata_refuse_truncate"
SIGNING_KEY_RETIRE_ONCE = "omadata_signing_key_retire_once"
LOG_HEAD_GROW_ONLY = "omadata_log_head_grow_only"

# Written out, not composed: this is what an auditor reads to know what the database refuses.
_FUNCTIONS = """
CREATE FUNCTION omadata_refuse_change() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
BEGIN
  RAISE EXCEPTION '% on %: refused: this table is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation',
          HINT = 'Evidence is written once: docs/operating.md, "The database roles".';
END $$;

CREATE FUNCTION omadata_refuse_truncate() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
BEGIN
  -- The owner could drop this trigger anyway; any other role, even one granted
  -- TRUNCATE by mistake, may not empty the table.
  IF pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE')
  THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION '% on %: refused: only the owner may empty this table', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation',
          HINT = 'Evidence is written once: docs/operating.md, "The database roles".';
END $$;

CREATE FUNCTION omadata_signing_key_retire_once() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.retired_at IS NULL AND NEW.retired_at IS NOT NULL
     AND to_jsonb(NEW) - 'retired_at' = to_jsonb(OLD) - 'retired_at' THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '% on %: refused: a signing key is only ever retired, once', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation',
          HINT = 'Evidence is written once: docs/operating.md, "The database roles".';
END $$;

CREATE FUNCTION omadata_log_head_grow_only() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.tree_size > OLD.tree_size
     AND to_jsonb(NEW) - 'tree_size' = to_jsonb(OLD) - 'tree_size' THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '% on %: refused: the receipt log only grows', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation',
          HINT = 'Evidence is written once: docs/operating.md, "The database roles".';
END $$;
"""

_DROP_FUNCTIONS = "".join(
    f"DROP FUNCTION {name}();\n"
    for name in (REFUSE_CHANGE, REFUSE_TRUNCATE, SIGNING_KEY_RETIRE_ONCE, LOG_HEAD_GROW_ONLY)
)


class PostgresOnlySQL(migrations.RunSQL):
    """RunSQL that runs on PostgreSQL, and does nothing on any other database."""

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def evidence_functions() -> PostgresOnlySQL:
    """The trigger functions: once, in the ledger's migration, before any trigger."""
    return PostgresOnlySQL(_FUNCTIONS, _DROP_FUNCTIONS)


def evidence_triggers(table: str, *, rows: str = REFUSE_CHANGE) -> PostgresOnlySQL:
    """Guard `table`: `rows` judges each UPDATE and DELETE, and only its owner may TRUNCATE it."""
    quoted = f'"{table}"'
    return PostgresOnlySQL(
        f"""
CREATE TRIGGER omadata_evidence_rows BEFORE UPDATE OR DELETE ON {quoted}
  FOR EACH ROW EXECUTE FUNCTION {rows}();
CREATE TRIGGER omadata_evidence_truncate BEFORE TRUNCATE ON {quoted}
  FOR EACH STATEMENT EXECUTE FUNCTION {REFUSE_TRUNCATE}();
ALTER TABLE {quoted} ENABLE ALWAYS TRIGGER omadata_evidence_rows;
ALTER TABLE {quoted} ENABLE ALWAYS TRIGGER omadata_evidence_truncate;
""",
        f"""
DROP TRIGGER omadata_evidence_rows ON {quoted};
DROP TRIGGER omadata_evidence_truncate ON {quoted};
""",
    )


# -- added with ledger 0003 and 0004, and registry 0004 -----------------------------

OWNER_WRITES_ONLY = "omadata_owner_writes_only"

# Who may publish a signing key: a role that may write `ledger_signingkey` could plant a
# key of its own in the JWKS, and whatever it signed would verify as the operator's.
_OWNER_WRITES_ONLY_FUNCTION = """
CREATE FUNCTION omadata_owner_writes_only() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
BEGIN
  IF pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE')
  THEN
    IF TG_OP = 'DELETE' THEN
      RETURN OLD;
    END IF;
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '% on %: refused: only the owner may write this table', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation',
          HINT = 'Signing keys are published by management commands run as the owner role: '
                 'docs/operating.md, "Signing keys".';
END $$;
"""

# The receipt log as stored must be the tree its head claims, checked at commit (the
# appends of one transaction write nodes, the head and entries in turn). By induction
# over the head's growth (it only grows, see omadata_log_head_grow_only): the entries
# are exactly the indexes [0, tree_size), the nodes exactly the perfect subtrees (level,
# index) with (index + 1) * 2^level <= tree_size, each leaf node the hash of its entry
# and each inner node the hash of its two children (RFC 6962). Each check reads a few
# rows by index, so a commit costs O(log n) per leaf appended.
_LOG_STORED_FUNCTIONS = """
CREATE FUNCTION omadata_log_head_stored() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
DECLARE
  old_size bigint := CASE WHEN TG_OP = 'UPDATE' THEN OLD.tree_size ELSE 0 END;
  level int := 0;
  expected bigint := 0;
  found bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM %I.ledger_logentry WHERE index >= $1 AND index < $2',
                 TG_TABLE_SCHEMA)
    INTO found USING old_size, NEW.tree_size;
  IF found <> NEW.tree_size - old_size THEN
    RAISE EXCEPTION 'ledger_loghead: refused: a log of % leaves lacks entries from % on',
                    NEW.tree_size, old_size
      USING ERRCODE = 'integrity_constraint_violation',
            HINT = 'The receipt log''s head claims only leaves that are stored.';
  END IF;
  WHILE (NEW.tree_size >> level) > 0 LOOP
    expected := expected + (NEW.tree_size >> level) - (old_size >> level);
    level := level + 1;
  END LOOP;
  EXECUTE format(
    'SELECT count(*) FROM generate_series(0, $3) AS l JOIN %I.ledger_lognode n '
    'ON n.level = l AND n.index >= ($1 >> l) AND n.index < ($2 >> l)', TG_TABLE_SCHEMA)
    INTO found USING old_size, NEW.tree_size, greatest(level - 1, 0);
  IF found <> expected THEN
    RAISE EXCEPTION 'ledger_loghead: refused: a log of % leaves lacks nodes from % on',
                    NEW.tree_size, old_size
      USING ERRCODE = 'integrity_constraint_violation',
            HINT = 'The receipt log''s head claims only leaves that are stored.';
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION omadata_log_entry_stored() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
DECLARE
  size bigint;
  leaf bytea;
BEGIN
  EXECUTE format('SELECT coalesce(max(tree_size), 0) FROM %I.ledger_loghead', TG_TABLE_SCHEMA)
    INTO size;
  IF NEW.index < 0 OR NEW.index >= size THEN
    RAISE EXCEPTION 'ledger_logentry: refused: entry % is beyond the log''s head', NEW.index
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  EXECUTE format('SELECT hash FROM %I.ledger_lognode WHERE level = 0 AND index = $1',
                 TG_TABLE_SCHEMA)
    INTO leaf USING NEW.index;
  IF leaf IS DISTINCT FROM sha256('\\x00'::bytea || convert_to(NEW.data, 'UTF8'))
     OR NEW.sha256 <> encode(sha256(convert_to(NEW.data, 'UTF8')), 'hex') THEN
    RAISE EXCEPTION 'ledger_logentry: refused: entry % does not hash to its leaf', NEW.index
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION omadata_log_node_stored() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
DECLARE
  size bigint;
  left_hash bytea;
  right_hash bytea;
BEGIN
  EXECUTE format('SELECT coalesce(max(tree_size), 0) FROM %I.ledger_loghead', TG_TABLE_SCHEMA)
    INTO size;
  IF NEW.index < 0 OR (NEW.index + 1) * 2::numeric ^ NEW.level > size THEN
    RAISE EXCEPTION 'ledger_lognode: refused: node %/% is beyond the log''s head',
                    NEW.level, NEW.index
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF NEW.level > 0 THEN
    EXECUTE format('SELECT hash FROM %I.ledger_lognode WHERE level = $1 AND index = $2',
                   TG_TABLE_SCHEMA)
      INTO left_hash USING NEW.level - 1, 2 * NEW.index;
    EXECUTE format('SELECT hash FROM %I.ledger_lognode WHERE level = $1 AND index = $2',
                   TG_TABLE_SCHEMA)
      INTO right_hash USING NEW.level - 1, 2 * NEW.index + 1;
    IF NEW.hash IS DISTINCT FROM sha256('\\x01'::bytea || left_hash || right_hash) THEN
      RAISE EXCEPTION 'ledger_lognode: refused: node %/% is not the hash of its children',
                      NEW.level, NEW.index
        USING ERRCODE = 'integrity_constraint_violation';
    END IF;
  END IF;
  RETURN NULL;
END $$;
"""


def owner_writes_only_function() -> PostgresOnlySQL:
    """The function of the owner-only trigger: once, in ledger 0003, before the trigger."""
    return PostgresOnlySQL(_OWNER_WRITES_ONLY_FUNCTION, f"DROP FUNCTION {OWNER_WRITES_ONLY}();")


def log_stored_functions() -> PostgresOnlySQL:
    """The functions of the receipt log's commit-time checks: once, in ledger 0004."""
    return PostgresOnlySQL(
        _LOG_STORED_FUNCTIONS,
        """
DROP FUNCTION omadata_log_head_stored();
DROP FUNCTION omadata_log_entry_stored();
DROP FUNCTION omadata_log_node_stored();
""",
    )


def owner_writes_only(table: str) -> PostgresOnlySQL:
    """Refuse INSERT, UPDATE and DELETE on `table` to every role but its owner."""
    quoted = f'"{table}"'
    return PostgresOnlySQL(
        f"""
CREATE TRIGGER omadata_evidence_owner BEFORE INSERT OR UPDATE OR DELETE ON {quoted}
  FOR EACH ROW EXECUTE FUNCTION {OWNER_WRITES_ONLY}();
ALTER TABLE {quoted} ENABLE ALWAYS TRIGGER omadata_evidence_owner;
""",
        f"DROP TRIGGER omadata_evidence_owner ON {quoted};",
    )


def stored_at_commit(table: str, *, function: str, events: str = "INSERT") -> PostgresOnlySQL:
    """Check each row of `events` on `table` with `function`, when its transaction commits."""
    quoted = f'"{table}"'
    return PostgresOnlySQL(
        f"""
CREATE CONSTRAINT TRIGGER omadata_evidence_stored AFTER {events} ON {quoted}
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {function}();
ALTER TABLE {quoted} ENABLE ALWAYS TRIGGER omadata_evidence_stored;
""",
        f"DROP TRIGGER omadata_evidence_stored ON {quoted};",
    )


# The time of an audit event is the database's, not whatever the application says.
_AUDIT_NOW = """
CREATE FUNCTION omadata_at_now() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
BEGIN
  NEW.at := now();
  RETURN NEW;
END $$;

CREATE TRIGGER omadata_evidence_now BEFORE INSERT ON registry_auditevent
  FOR EACH ROW EXECUTE FUNCTION omadata_at_now();
ALTER TABLE registry_auditevent ENABLE ALWAYS TRIGGER omadata_evidence_now;
"""


def audit_event_time_now() -> PostgresOnlySQL:
    """Set each new audit event's `at` to the transaction's time (registry 0004)."""
    return PostgresOnlySQL(
        _AUDIT_NOW,
        "DROP TRIGGER omadata_evidence_now ON registry_auditevent;\n"
        "DROP FUNCTION omadata_at_now();",
    )


# -- added with ledger 0006: the log sequencer ------------------------------------------

LOG_ENTRY_INTEGRATE_ONCE = "omadata_log_entry_integrate_once"

# A log entry is written without an index when its receipt is issued; the sequencer
# gives it one later. So the one change allowed is that: an index where there was none,
# with every other column as it was. At commit, an entry still waiting must be in the
# sequencer's queue (else it would never be integrated) and its digest must match its
# text; an integrated one must hash to its leaf, within the head, as before.
_LOG_SEQUENCER_FUNCTIONS = """
CREATE FUNCTION omadata_log_entry_integrate_once() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.index IS NULL AND NEW.index IS NOT NULL
     AND to_jsonb(NEW) - 'index' = to_jsonb(OLD) - 'index' THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '% on %: refused: a log entry is written once and given its index once',
                  TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation',
          HINT = 'Evidence is written once: docs/operating.md, "The database roles".';
END $$;

CREATE FUNCTION omadata_log_entry_queued_or_stored() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
DECLARE
  size bigint;
  leaf bytea;
  queued boolean;
  position bigint;
BEGIN
  -- The row as it stands at commit: an entry queued and integrated in one
  -- transaction is judged as integrated, under both of its events.
  EXECUTE format('SELECT index FROM %I.ledger_logentry WHERE id = $1', TG_TABLE_SCHEMA)
    INTO position USING NEW.id;
  IF NEW.sha256 <> encode(sha256(convert_to(NEW.data, 'UTF8')), 'hex') THEN
    RAISE EXCEPTION 'ledger_logentry: refused: entry % does not match its digest', NEW.id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF position IS NULL THEN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.ledger_logqueue WHERE entry_id = $1)',
                   TG_TABLE_SCHEMA)
      INTO queued USING NEW.id;
    IF NOT queued THEN
      RAISE EXCEPTION 'ledger_logentry: refused: entry % waits for the sequencer unqueued', NEW.id
        USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
  END IF;
  EXECUTE format('SELECT coalesce(max(tree_size), 0) FROM %I.ledger_loghead', TG_TABLE_SCHEMA)
    INTO size;
  IF position < 0 OR position >= size THEN
    RAISE EXCEPTION 'ledger_logentry: refused: entry % is beyond the log''s head', position
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  EXECUTE format('SELECT hash FROM %I.ledger_lognode WHERE level = 0 AND index = $1',
                 TG_TABLE_SCHEMA)
    INTO leaf USING position;
  IF leaf IS DISTINCT FROM sha256('\\x00'::bytea || convert_to(NEW.data, 'UTF8')) THEN
    RAISE EXCEPTION 'ledger_logentry: refused: entry % does not hash to its leaf', position
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NULL;
END $$;
"""


def log_sequencer_functions() -> PostgresOnlySQL:
    """The functions that let the sequencer index a queued entry, once (ledger 0006)."""
    return PostgresOnlySQL(
        _LOG_SEQUENCER_FUNCTIONS,
        f"DROP FUNCTION {LOG_ENTRY_INTEGRATE_ONCE}();\n"
        "DROP FUNCTION omadata_log_entry_queued_or_stored();",
    )


def log_entry_triggers_for_sequencer() -> PostgresOnlySQL:
    """Swap ledger_logentry's row and commit triggers for the sequencer's (ledger 0006)."""
    return PostgresOnlySQL(
        f"""
DROP TRIGGER omadata_evidence_rows ON ledger_logentry;
CREATE TRIGGER omadata_evidence_rows BEFORE UPDATE OR DELETE ON ledger_logentry
  FOR EACH ROW EXECUTE FUNCTION {LOG_ENTRY_INTEGRATE_ONCE}();
ALTER TABLE ledger_logentry ENABLE ALWAYS TRIGGER omadata_evidence_rows;
DROP TRIGGER omadata_evidence_stored ON ledger_logentry;
CREATE CONSTRAINT TRIGGER omadata_evidence_stored AFTER INSERT OR UPDATE ON ledger_logentry
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  EXECUTE FUNCTION omadata_log_entry_queued_or_stored();
ALTER TABLE ledger_logentry ENABLE ALWAYS TRIGGER omadata_evidence_stored;
""",
        f"""
DROP TRIGGER omadata_evidence_rows ON ledger_logentry;
CREATE TRIGGER omadata_evidence_rows BEFORE UPDATE OR DELETE ON ledger_logentry
  FOR EACH ROW EXECUTE FUNCTION {REFUSE_CHANGE}();
ALTER TABLE ledger_logentry ENABLE ALWAYS TRIGGER omadata_evidence_rows;
DROP TRIGGER omadata_evidence_stored ON ledger_logentry;
CREATE CONSTRAINT TRIGGER omadata_evidence_stored AFTER INSERT ON ledger_logentry
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION omadata_log_entry_stored();
ALTER TABLE ledger_logentry ENABLE ALWAYS TRIGGER omadata_evidence_stored;
""",
    )


# -- added with ledger 0007: the sequencer's queue holds its place ----------------------

# A queue row is a receipt's place in line for the tree. Taken out before the entry has
# its index, the receipt would never reach the tree (its request's effects kept); put in
# for an entry that has one, the sequencer would give it a second, or stop there for
# good. So, at commit: a queue row deleted leaves its entry integrated, and one that
# stays names an entry still waiting. A row is never changed; only the owner empties
# the table.
_LOG_QUEUE_FUNCTIONS = """
CREATE FUNCTION omadata_log_queue_holds_its_place() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
DECLARE
  position bigint;
  present boolean;
BEGIN
  IF TG_OP = 'DELETE' THEN
    EXECUTE format('SELECT index FROM %I.ledger_logentry WHERE id = $1', TG_TABLE_SCHEMA)
      INTO position USING OLD.entry_id;
    IF position IS NULL THEN
      RAISE EXCEPTION 'ledger_logqueue: refused: entry % left the queue without its index',
                      OLD.entry_id
        USING ERRCODE = 'integrity_constraint_violation',
              HINT = 'Only the sequencer takes an entry out of the queue, as it integrates it.';
    END IF;
    RETURN NULL;
  END IF;
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.ledger_logqueue WHERE id = $1)',
                 TG_TABLE_SCHEMA)
    INTO present USING NEW.id;
  IF NOT present THEN
    RETURN NULL;  -- queued and integrated in one transaction
  END IF;
  EXECUTE format('SELECT index FROM %I.ledger_logentry WHERE id = $1', TG_TABLE_SCHEMA)
    INTO position USING NEW.entry_id;
  IF position IS NOT NULL THEN
    RAISE EXCEPTION 'ledger_logqueue: refused: entry % is in the tree already, at %',
                    NEW.entry_id, position
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NULL;
END $$;
"""


def log_queue_holds_its_place() -> PostgresOnlySQL:
    """ledger_logqueue's triggers: a row is written once and goes only with its entry's index."""
    return PostgresOnlySQL(
        f"""{_LOG_QUEUE_FUNCTIONS}
CREATE TRIGGER omadata_evidence_rows BEFORE UPDATE ON ledger_logqueue
  FOR EACH ROW EXECUTE FUNCTION {REFUSE_CHANGE}();
ALTER TABLE ledger_logqueue ENABLE ALWAYS TRIGGER omadata_evidence_rows;
CREATE TRIGGER omadata_evidence_truncate BEFORE TRUNCATE ON ledger_logqueue
  FOR EACH STATEMENT EXECUTE FUNCTION {REFUSE_TRUNCATE}();
ALTER TABLE ledger_logqueue ENABLE ALWAYS TRIGGER omadata_evidence_truncate;
CREATE CONSTRAINT TRIGGER omadata_evidence_stored AFTER INSERT OR DELETE ON ledger_logqueue
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  EXECUTE FUNCTION omadata_log_queue_holds_its_place();
ALTER TABLE ledger_logqueue ENABLE ALWAYS TRIGGER omadata_evidence_stored;
""",
        "DROP TRIGGER omadata_evidence_stored ON ledger_logqueue;\n"
        "DROP TRIGGER omadata_evidence_truncate ON ledger_logqueue;\n"
        "DROP TRIGGER omadata_evidence_rows ON ledger_logqueue;\n"
        "DROP FUNCTION omadata_log_queue_holds_its_place();",
    )
