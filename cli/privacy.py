"""The `privacy` commands: re-encrypt under a new data_key, run the purge now, check what is kept."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import click
from sqlalchemy.orm import Session

import schedules
from callout import audit, auditlog, privacy
from callout.crypto import InvalidKey, Vault, check_key
from callout.db import transaction
from callout.env import Env, make_env
from cli.group import Context, cli, fail, pass_context
from transport import make_transport

T = TypeVar("T")


@cli.group("privacy")
def privacy_group() -> None:
    """Manage the encryption key and the erasure of contact details."""


def _key(value: str, option: str) -> str:
    """Return value if it is a Fernet key; else fail naming the option."""
    try:
        check_key(value)
    except InvalidKey:
        fail(f"{option} is not a data key (32 url-safe base64-encoded bytes); `callout keygen` prints one")
    return value


@privacy_group.command("rekey")
@click.option(
    "--new-key",
    envvar="CALLOUT_NEW_DATA_KEY",
    required=True,
    help="The new data_key (or env CALLOUT_NEW_DATA_KEY, which keeps it out of the shell history).",
)
@click.option(
    "--old-key",
    "old_keys",
    multiple=True,
    help="A former key some values may still be under (repeatable).",
)
@pass_context
def rekey(ctx: Context, new_key: str, old_keys: tuple[str, ...]) -> None:
    """Re-encrypt every stored contact detail under a new data_key. Stop Callout first."""
    current = ctx.config.privacy.data_key
    if not current:
        fail("no [privacy] data_key (nor CALLOUT_DATA_KEY) is configured: nothing is under a lasting key")
    new_key = _key(new_key, "--new-key")
    old_keys = tuple(_key(key, "--old-key") for key in old_keys)
    if new_key == current:
        fail("--new-key is the key in use; `callout keygen` prints a new one")
    with transaction(ctx.sessions()) as session:
        try:
            count = privacy.rekey(session, Vault(current, *old_keys), Vault(new_key))
        except privacy.RekeyError as exc:
            fail(str(exc))
        # Who and when, nothing more: no key, and no count (how many requesters' details were held).
        summary = "re-encrypted the stored contact details under a new data_key"
        auditlog.record(session, datetime.now(UTC), auditlog.cli_actor(), "privacy.rekey", summary)
    click.echo(f"re-encrypted {count} stored value(s) under the new key.")
    click.echo("Now set the new key, start Callout, and destroy the old key. In the config file:")
    click.echo("[privacy]")
    click.echo(f'data_key = "{new_key}"')
    click.echo("(or CALLOUT_DATA_KEY in the environment, if that is where the key comes from)")


@privacy_group.command("purge")
@pass_context
def purge(ctx: Context) -> None:
    """Erase now the contact details whose time has come, and delete their records at the provider."""
    config = ctx.config
    env = make_env(config)
    sessions = ctx.sessions()
    now = datetime.now(UTC)

    def run(work: Callable[[Session, Env, datetime], T]) -> T:
        with transaction(sessions) as session:
            return work(session, env, now)

    purged = schedules.purge(run, sessions.kw["bind"])
    click.echo(f"erased the contact details of {purged} request(s).")
    if not config.privacy.delete_provider_records:
        return
    transport = make_transport(config)
    deleted = retrying = 0
    while (batch := schedules.delete_at_provider(run, transport)) is not None:
        deleted += batch[0]
        retrying += batch[1]
    click.echo(f"deleted {deleted} record(s) at the provider; {retrying} will be retried later.")


@privacy_group.command("check")
@click.option(
    "--log",
    "logs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A log file to read too, for phone numbers in clear (repeatable; a .gz file is read as gzip).",
)
@pass_context
def check(ctx: Context, logs: tuple[Path, ...]) -> None:
    """Check the database (and logs) for phone numbers in clear and contact details kept too long.

    Prints what was checked, what was found and a verdict; exits 1 when it found anything.
    """
    for path in logs:
        if not path.is_file():
            fail(f"--log {path}: no such file")
        try:
            path.open("rb").close()
        except OSError as exc:
            fail(f"--log {path}: cannot be read ({exc.strerror or type(exc).__name__})")
    config = ctx.config
    sessions = ctx.sessions()
    now = datetime.now(UTC)
    with sessions() as session:
        database = audit.scan_database(session, now)
        support, roster = audit.known_numbers(session)
    scans = [audit.scan_log(path, support, roster) for path in logs]
    where = sessions.kw["bind"].url.render_as_string(hide_password=True)
    for line in audit.verdict(database, scans, where=where, now=now, purge_after=config.privacy.purge_after):
        click.echo(line)
    if audit.findings(database, scans):
        raise SystemExit(1)
