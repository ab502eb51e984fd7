"""Database engine, sessions and schema migrations."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, bindparam, create_engine, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from callout.due import note_due
from callout.lineup import note_roster_write

MIGRATIONS = Path(__file__).parent / "migrations"
# The PostgreSQL advisory lock that lets one process at a time migrate the schema, sync the teams and import
# rosters: gunicorn starts its workers together, and two inserting the same team would stop the server.
STARTUP_LOCK = 0x63616C6C6F7574  # "callout"
# The advisory locks (one per request id) that keep one request's relays in order across processes.
RELAY_LOCK = 0x72656C61  # "rela"
READ_ONLY = "callout_read_only"  # the execution option of a transaction that only reads


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and foreign keys so several threads share it."""
    # A database error's text would otherwise quote the statement's parameters, and a webhook's lookups
    # bind the sender's number: keep them out of every exception and so out of every log line.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's BEGIN below open the transaction, IMMEDIATE, so writers queue at once.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Zero erased values in the file instead of leaving them in free space (many builds don't).
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            # A transaction that only reads takes no write lock: in WAL mode it reads its snapshot
            # while one writer works (`reading`). Every other one queues for the write lock at once.
            read_only = connection.get_execution_options().get(READ_ONLY, False)
            connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory bound to engine; its sessions note the due times and rosters they write."""
    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory, "after_flush", note_due)
    event.listen(factory, "after_flush", note_roster_write)
    return factory


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session, commit if the block succeeds, roll back if it raises."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session for reads only, rolled back at the end; on SQLite it takes no write lock."""
    with factory() as session:
        session.connection(execution_options={READ_ONLY: True})
        try:
            yield session
        finally:
            session.rollback()


@contextmanager
def reading_connection(engine: Engine) -> Iterator[Connection]:
    """Open a bare connection for Core reads only, rolled back at the end (on SQLite without the write lock).

    For a look made many times a second (the timer's), where a session's own bookkeeping is most of the cost.
    """
    with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
        yield connection


def insert_new(session: Session, model: Any, **values: Any) -> bool:
    """Insert a row unless one with its key exists; tell whether it was inserted (one statement)."""
    statement = _insert_new(session.get_bind().dialect.name, model)
    return session.connection().execute(statement, values).first() is not None


@functools.cache
def _insert_new(dialect: str, model: Any) -> Any:
    """Return the INSERT ... ON CONFLICT DO NOTHING of model, built once (every text makes one)."""
    statement: Any = _dialect_named(dialect).insert(model).on_conflict_do_nothing()
    # RETURNING the key says whether the row went in; drivers' rowcount for this statement varies.
    return statement.returning(*model.__table__.primary_key.columns)


def upsert(session: Session, model: type[Any], key: dict[str, Any], **values: Any) -> None:
    """Insert a row with key and values, or set values on the row with that key (one statement)."""
    statement: Any = _dialect(session).insert(model).values(**key, **values)
    session.connection().execute(statement.on_conflict_do_update(index_elements=list(key), set_=values))


def insert_loaded(session: Session, obj: Any, *, unless_conflict: bool = False) -> bool:
    """Write a new mapped object in one INSERT and attach it to session as loaded; tell whether it went in.

    The hot path's rows (a request, its pages) are written so instead of by the unit of work, whose flush
    costs more CPU than the statement itself. Its columns are the values set on obj and, for those not set,
    their scalar defaults; its many-to-one relationships must be given as ids. unless_conflict: write
    nothing when a unique index holds the row already (False is returned, obj stays unattached).
    """
    mapper = inspect(obj).mapper
    table = mapper.local_table
    values: dict[str, Any] = {}
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if column.primary_key and prop.key not in obj.__dict__:
            continue
        if prop.key not in obj.__dict__:
            default = column.default
            set_committed_value(
                obj, prop.key, default.arg if default is not None and default.is_scalar else None
            )
        values[column.key] = obj.__dict__[prop.key]
    statement: Any = _dialect(session).insert(table)
    if unless_conflict:
        statement = statement.on_conflict_do_nothing()
    key = session.connection().execute(statement.returning(*table.primary_key.columns), values).first()
    if key is None:
        return False
    for column, value in zip(table.primary_key.columns, key, strict=True):
        set_committed_value(obj, mapper.get_property_by_column(column).key, value)
    make_transient_to_detached(obj)
    session.add(obj)  # attached as it is in the database: no flush writes it again
    return True


def update_loaded(session: Session, obj: Any, **values: Any) -> None:
    """Write values to a loaded object's row in one UPDATE, and set them on obj as committed (no flush).

    The statement is built once per class and set of attributes (`_update_of`): the hot path has few.
    """
    mapper = inspect(obj).mapper
    statement, keys = _update_of(mapper, tuple(values))
    params = {f"key_{column.key}": getattr(obj, prop) for column, prop in keys}
    params.update({f"new_{name}": value for name, value in values.items()})
    session.connection().execute(statement, params)
    for key, value in values.items():
        set_committed_value(obj, key, value)


@functools.cache
def _update_of(mapper: Any, names: tuple[str, ...]) -> tuple[Any, tuple[tuple[Any, str], ...]]:
    """Return the UPDATE of names by primary key of a mapped class, and its key columns and attributes."""
    table = mapper.local_table
    keys = tuple((column, mapper.get_property_by_column(column).key) for column in table.primary_key)
    where = [column == bindparam(f"key_{column.key}") for column, _ in keys]
    columns: dict[str, Any] = {
        mapper.get_property(name).columns[0].key: bindparam(f"new_{name}") for name in names
    }
    return table.update().where(*where).values(**columns), keys


def _dialect(session: Session) -> Any:
    return _dialect_named(session.get_bind().dialect.name)


def _dialect_named(name: str) -> Any:
    """Return SQLAlchemy's dialect module whose insert() knows ON CONFLICT: PostgreSQL's, else SQLite's."""
    return postgresql if name == "postgresql" else sqlite


def exclusive(bind: Session | Connection) -> None:
    """Hold the start-up lock until the transaction ends (SQLite's write transactions run one at a time)."""
    connection = bind.connection() if isinstance(bind, Session) else bind
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STARTUP_LOCK})


@contextmanager
def in_turn(factory: sessionmaker[Session], space: int, key: int) -> Iterator[None]:
    """Hold the advisory lock (space, key) while the block runs, so processes take turns at it.

    On PostgreSQL only: SQLite serves one process, whose own threads take turns by other means, and a
    transaction held open there would stop every writer.
    """
    engine = factory.kw["bind"]
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.begin() as connection:
        connection.execute(
            text("SELECT pg_advisory_xact_lock(CAST(:space AS integer), CAST(:key AS integer))"),
            {"space": space, "key": key},
        )
        yield


def revision(engine: Engine) -> str | None:
    """Return the revision of the database's schema, or None when it has none yet (a new database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Create or migrate the schema to the newest revision (one process at a time)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        exclusive(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
