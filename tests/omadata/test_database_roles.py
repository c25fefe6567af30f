"""docs/operating.md, "The database roles": its SQL, run against PostgreSQL, does what it says.

The test makes the two roles and a database of its own with the document's three
```sql blocks (names made unique), migrates as the owner, runs management
commands as the application role, and tries, as that role, each thing the
document says it cannot do. It drops its database and roles at the end.
"""

import os
import re
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.docs.examples import DOCS
from tests.servers import manage

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# Two on each of the nine guarded tables, five more (tests/relay/test_evidence.py), and
# the log sequencer's queue's three (ledger 0007: rows, truncate, checked at commit).
TRIGGERS = 2 * 9 + 5 + 3


def sql_blocks() -> list[str]:
    """The ```sql blocks of the section: as a superuser, as the owner, as the application."""
    text = (DOCS / "operating.md").read_text()
    section = text.split("## The database roles", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```sql\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)


def statements(block: str) -> list[str]:
    return [part.strip() for part in block.split(";") if part.strip()]


def url(role: str | None, database: str) -> str:
    """Where `role` (default: the suite's own) reaches `database` on the suite's server."""
    server = urlsplit(os.environ["DATABASE_URL"])
    user = role or server.username
    return urlunsplit(server._replace(netloc=f"{user}@{server.hostname}:{server.port or 5432}",
                                      path=f"/{database}"))  # fmt: skip


@pytest.fixture(scope="module")
def names():
    """The document's names, made unique to this run: roles are shared by the whole server."""
    suffix = uuid.uuid4().hex[:8]
    return {
        "owner": f"omadata_owner_{suffix}",
        "app": f"omadata_app_{suffix}",
        "database": f"omadata_roles_{suffix}",
    }


def renamed(block: str, names: dict[str, str]) -> str:
    block = re.sub(r"\bomadata_owner\b", names["owner"], block)
    block = re.sub(r"\bomadata_app\b", names["app"], block)
    return re.sub(r"\bomadata\b", names["database"], block)


@pytest.fixture(scope="module")
def roles(names):
    """The roles and database of the document's first two blocks, dropped afterwards."""
    as_superuser, as_owner, _as_app = sql_blocks()
    with psycopg.connect(url(None, "postgres"), autocommit=True) as admin:
        try:
            for statement in statements(renamed(as_superuser, names)):
                admin.execute(statement)
            with psycopg.connect(url(names["owner"], names["database"]), autocommit=True) as owner:
                for statement in statements(renamed(as_owner, names)):
                    owner.execute(statement)
            yield names
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {names['database']} WITH (FORCE)")
            admin.execute(f"DROP ROLE IF EXISTS {names['app']}")
            admin.execute(f"DROP ROLE IF EXISTS {names['owner']}")


@pytest.fixture(scope="module")
def migrated(roles, tmp_path_factory):
    """The roles' database, migrated by the owner role as the document says (once: it is slow)."""
    env = _env(roles, "owner", tmp_path_factory.mktemp("owner"))
    result = manage("migrate", "--no-input", env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return roles


@pytest.fixture
def app_connection(migrated):
    """A connection as the application role, with a row in the log head to refuse changing."""
    with psycopg.connect(url(migrated["app"], migrated["database"]), autocommit=True) as connection:
        connection.execute(
            "INSERT INTO ledger_loghead (id, tree_size) VALUES (1, 0) ON CONFLICT DO NOTHING"
        )
        yield connection


def _env(names: dict[str, str], role: str, tmp_path) -> dict[str, str]:
    return {
        "DATABASE_URL": url(names[role], names["database"]),
        "OMADATA_KEYS_DIR": str(tmp_path / "keys"),
        "OMADATA_VAR_DIR": str(tmp_path / "var"),
    }


def test_the_application_role_runs_the_operator(migrated, tmp_path):
    env = _env(migrated, "app", tmp_path)

    # Rows inserted with generated ids.
    created = manage(
        "provider_create", "--organisation", "Askel Wearables Oy", "--business-id", "2345678-0",
        "--email", "privacy@askel.example", "--username", "askel", env=env,
    )  # fmt: skip
    checked = manage("check", "--database", "default", env=env)

    for result in (created, checked):
        assert result.returncode == 0, result.stderr


def test_the_owner_role_rotates_the_signing_key(migrated, tmp_path):
    env = _env(migrated, "owner", tmp_path)

    # A key recorded, then retired by the next.
    first = manage("signing_key_rotate", env=env)
    second = manage("signing_key_rotate", env=env)

    for result in (first, second):
        assert result.returncode == 0, result.stderr


def test_the_application_role_cannot_rotate_the_signing_key(migrated, tmp_path):
    result = manage("signing_key_rotate", env=_env(migrated, "app", tmp_path))

    assert result.returncode != 0
    assert "only the owner may write this table" in result.stderr


def test_the_owner_role_publishes_a_signing_key_and_the_application_role_reads_it(
    migrated, app_connection
):
    kid = f"published-{uuid.uuid4().hex}"
    with psycopg.connect(url(migrated["owner"], migrated["database"]), autocommit=True) as owner:
        owner.execute(PLANT_A_KEY, (kid,))

    found = app_connection.execute("SELECT kid FROM ledger_signingkey WHERE kid = %s", (kid,))

    assert found.fetchall() == [(kid,)]


def test_the_application_role_sees_every_trigger_always_enabled(app_connection):
    *_, as_app = sql_blocks()

    rows = app_connection.execute(as_app).fetchall()

    assert len(rows) == TRIGGERS
    assert {enabled for _table, _trigger, enabled in rows} == {"A"}


PLANT_A_KEY = "INSERT INTO ledger_signingkey (kid, public_jwk, created_at) VALUES (%s, '{}', now())"
DENIED = psycopg.errors.InsufficientPrivilege
REFUSED = psycopg.errors.IntegrityConstraintViolation


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("CREATE TABLE forged (id int)", DENIED),
        ("ALTER TABLE ledger_signingkey ADD COLUMN forged text", DENIED),
        ("DROP TABLE consent_receipt", DENIED),
        ("DROP TRIGGER omadata_evidence_rows ON consent_receipt", DENIED),
        ("ALTER TABLE consent_receipt DISABLE TRIGGER ALL", DENIED),
        ("ALTER TABLE consent_receipt DISABLE TRIGGER omadata_evidence_rows", DENIED),
        ("DROP FUNCTION omadata_refuse_change()", DENIED),
        (
            "CREATE OR REPLACE FUNCTION omadata_refuse_change() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
            DENIED,
        ),
        ("SET session_replication_role = replica", DENIED),
        ("TRUNCATE consent_receipt", DENIED),
        ("UPDATE ledger_loghead SET tree_size = 0", REFUSED),
        ("DELETE FROM ledger_loghead", REFUSED),
        ("UPDATE ledger_loghead SET tree_size = tree_size + 1", REFUSED),
        (PLANT_A_KEY.replace("%s", "'planted'"), REFUSED),
    ],
    ids=[
        "create-table", "alter-table", "drop-table", "drop-trigger", "disable-triggers",
        "disable-trigger", "drop-function", "replace-function", "replica-role", "truncate",
        "roll-back-the-log", "delete-evidence", "claim-leaves-not-stored", "plant-a-key",
    ],
)  # fmt: skip
def test_the_application_role_cannot(app_connection, statement, refusal):
    with pytest.raises(refusal):
        app_connection.execute(statement)


def test_a_truncate_granted_by_mistake_is_still_refused(migrated, app_connection):
    grant = f"TRUNCATE ON ledger_signingkey {{}} {migrated['app']}"
    with psycopg.connect(url(migrated["owner"], migrated["database"]), autocommit=True) as owner:
        owner.execute(f"GRANT {grant.format('TO')}")
        try:
            with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="only the owner"):
                app_connection.execute("TRUNCATE ledger_signingkey")
        finally:
            owner.execute(f"REVOKE {grant.format('FROM')}")
