"""The docs cannot drift: every command, option, config key and link they name must exist.

Commands and options are checked against the real command line (click's own tree, as `callout --help`
and each subcommand's help show it), config keys against config.example.toml, links against the files
and headings they point at. A failure says which doc, which line, and what it names that does not exist.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from cli import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GLOBAL_OPTIONS = {"--config": True, "-v": False, "--verbose": False, "--help": False}  # name: takes a value


@dataclass(frozen=True)
class Mention:
    """Something a doc names, and where."""

    doc: Path
    line: int
    text: str

    def where(self) -> str:
        """Return "docs/director.md:12"."""
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def lines_of(doc: Path) -> Iterator[tuple[int, str, str | None]]:
    """Yield (number, line, language of the code block it is in, or None in prose)."""
    fence: str | None = None
    for number, line in enumerate(doc.read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            fence = None if fence is not None else (line.strip().removeprefix("```") or "text")
            continue
        yield number, line, fence


# --- commands and options ------------------------------------------------------------------------------

COMMAND_IN_PROSE = re.compile(r"`(?:\.venv/bin/|/opt/callout/\.venv/bin/)?(callout(?: [^`]*)?)`")
COMMAND_IN_CODE = re.compile(r"^\s*(?:\$ )?(?:[\w./-]*/)?(callout(?: .*)?)$")


def command_mentions() -> Iterator[Mention]:
    """Yield every `callout ...` command line the docs show, in prose or in shell blocks."""
    for doc in DOCS:
        for number, line, fence in lines_of(doc):
            if fence is None:
                for match in COMMAND_IN_PROSE.finditer(line):
                    yield Mention(doc, number, match.group(1))
            elif fence in ("sh", "console", "ini", "text"):
                for part in re.split(r"&&|;|\|", line.split("#", 1)[0]):
                    match = COMMAND_IN_CODE.match(
                        part.replace("ExecStartPre=", "").replace("$(", "").rstrip(")")
                    )
                    if match:
                        yield Mention(doc, number, match.group(1).strip())


def words(command: str) -> list[str]:
    """Split a documented command into words, dropping [ ] brackets and | alternatives' punctuation."""
    cleaned = re.sub(r"[\[\]]", " ", command)
    return [w for w in re.findall(r'"[^"]*"|\S+', cleaned) if w not in ("|", "...")]


def check_command(mention: Mention) -> str | None:
    """Return what is wrong with a documented command line, or None if the command line knows it."""
    tokens = words(mention.text)[1:]
    command: click.Command = cli
    path = ["callout"]
    while tokens and tokens[0].startswith("-") and tokens[0].split("=")[0] in GLOBAL_OPTIONS:
        takes_value = GLOBAL_OPTIONS[tokens.pop(0).split("=")[0]]
        if takes_value and tokens:
            tokens.pop(0)
    while tokens:
        token = tokens.pop(0)
        if token.startswith("-"):
            name = token.split("=")[0]
            options = {opt: param for param in command.params for opt in (*param.opts, *param.secondary_opts)}
            if name not in options and name != "--help":
                known = ", ".join(sorted(options)) or "none"
                return f"`{' '.join(path)}` has no option {name} (its options: {known})"
            param = options.get(name)
            takes_value = isinstance(param, click.Option) and not param.is_flag and param.nargs > 0
            if takes_value and "=" not in token and tokens:
                tokens.pop(0)  # its value
            continue
        if isinstance(command, click.Group):
            sub = command.get_command(click.Context(command), token)
            if sub is not None:
                command, path = sub, [*path, token]
                continue
            if not command.invoke_without_command or not token.isidentifier() or token.islower():
                subcommands = ", ".join(sorted(command.list_commands(click.Context(command))))
                return f"`{' '.join(path)}` has no command {token!r} (its commands: {subcommands})"
        # an argument (FILE, ID, a value): the command takes it as it says in its --help
    return None


def test_every_command_and_option_the_docs_name_exists() -> None:
    mentions = list(command_mentions())
    assert len(mentions) > 30, "the docs should show the command line; did the pattern stop matching?"
    problems = [f"{m.where()} names `{m.text}`: {why}" for m in mentions if (why := check_command(m))]
    assert not problems, "docs name commands or options that `callout --help` does not know:\n" + "\n".join(
        problems
    )


# --- config keys ---------------------------------------------------------------------------------------


def example_keys() -> dict[str, set[str]]:
    """Return config.example.toml's keys by table: "server", "teams", "teams.escalation", ..."""
    data = tomllib.loads((ROOT / "config.example.toml").read_text())
    keys: dict[str, set[str]] = {}
    for table, values in data.items():
        entries = values if isinstance(values, list) else [values]
        for entry in entries:
            for key, value in entry.items():
                if isinstance(value, dict):
                    keys.setdefault(f"{table}.{key}", set()).update(value)
                else:
                    keys.setdefault(table, set()).add(key)
    return keys


KEY_IN_PROSE = re.compile(r"\[\[?([a-z_.]+)\]\]?\s+`?([a-z_]+)`?")
TABLE_HEADER = re.compile(r"^\s*\[\[?([a-z_.]+)\]\]?\s*(#.*)?$")
KEY_LINE = re.compile(r"^\s*#?\s*([a-z_]+)\s*=")


def key_mentions(docs: list[Path] = DOCS) -> Iterator[tuple[Mention, str, str]]:
    """Yield (mention, table, key) for every config key the docs name: `[table] key`, or in a toml block."""
    for doc in docs:
        table: str | None = None
        for number, line, fence in lines_of(doc):
            if fence == "toml":
                header = TABLE_HEADER.match(line)
                if header:
                    table = header.group(1)
                elif (
                    (key := KEY_LINE.match(line)) and table is not None and not line.lstrip().startswith("#")
                ):
                    yield Mention(doc, number, line.strip()), table, key.group(1)
                continue
            table = None
            if fence is None:
                for match in KEY_IN_PROSE.finditer(line):
                    yield Mention(doc, number, match.group(0)), match.group(1), match.group(2)


def test_every_config_key_the_docs_name_is_in_config_example_toml() -> None:
    keys = example_keys()
    mentions = list(key_mentions())
    assert len(mentions) > 30, "the docs should name config keys; did the pattern stop matching?"
    problems = []
    for mention, table, key in mentions:
        if table == "members":  # a roster file's table, not the config's
            continue
        if table not in keys:
            problems.append(f"{mention.where()} names [{table}]: config.example.toml has no such table")
        elif key not in keys[table] and f"{table}.{key}" not in keys:
            known = ", ".join(sorted(keys[table]))
            problems.append(
                f"{mention.where()} names [{table}] {key}: config.example.toml has no such key"
                f" (it has: {known})"
            )
    assert not problems, "docs name config keys that config.example.toml does not document:\n" + "\n".join(
        problems
    )


# --- links ---------------------------------------------------------------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """Return the anchor GitHub makes of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    return {
        slug(line.lstrip("#")) for _, line, fence in lines_of(doc) if fence is None and line.startswith("#")
    }


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_link_between_the_docs_leads_somewhere(doc: Path) -> None:
    problems = []
    for number, line, fence in lines_of(doc):
        if fence is not None:
            continue
        for target in LINK.findall(re.sub(r"<!--.*?-->", "", line)):  # a comment is a note, not a link
            if re.match(r"^[a-z]+:", target):
                continue  # https:, mailto:, sms:
            path, _, anchor = target.partition("#")
            file = (doc.parent / path).resolve() if path else doc
            if not file.exists():
                problems.append(f"{doc.relative_to(ROOT)}:{number} links to {target}: no such file")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file):
                problems.append(f"{doc.relative_to(ROOT)}:{number} links to {target}: no such heading")
    assert not problems, "\n".join(problems)


def test_the_checks_name_the_doc_the_line_and_what_does_not_exist() -> None:
    doc = ROOT / "docs" / "director.md"
    unknown = str(check_command(Mention(doc, 7, "callout privacy scrub")))
    assert (
        unknown.startswith("`callout privacy` has no command 'scrub' (its commands: ") and "purge" in unknown
    )
    assert "has no option --dry-run" in str(check_command(Mention(doc, 7, "callout roster list --dry-run")))
    assert check_command(Mention(doc, 7, "callout --config /etc/callout.toml report --from D --to D")) is None
    assert check_command(Mention(doc, 7, "callout oncall [--team SLUG] [--at 2026-12-24T23:00]")) is None
    assert Mention(doc, 7, "").where() == "docs/director.md:7"


def test_a_key_the_example_lacks_is_found_with_its_doc_and_line(tmp_path: Path) -> None:
    doc = tmp_path / "drift.md"
    doc.write_text("# Drift\n\nSet `[teams] shift_notic` to 12h.\n")
    found = [(m.line, table, key) for m, table, key in key_mentions([doc])]
    assert found == [(3, "teams", "shift_notic")]
    assert "shift_notic" not in example_keys()["teams"]
