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


# -- added with ledger 0003 -------------------------------------------------------

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

def owner_writes_only_function() -> PostgresOnlySQL:
    """The function of the owner-only trigger: once, in ledger 0003, before the trigger."""
    return PostgresOnlySQL(_OWNER_WRITES_ONLY_FUNCTION, f"DROP FUNCTION {OWNER_WRITES_ONLY}();")


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
