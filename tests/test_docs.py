"""The docs cannot drift: every command, option, config key, name and link they give must exist.

Commands, options and arguments are checked against the real command line (click's own tree, as
`callout --help` and each subcommand's help show it), and every command of that tree must be in some doc.
Config keys are checked against config.example.toml; other names in backquotes (`reminder_after`,
`CALLOUT_DATA_KEY`, `PER_NUMBER_CODES`) against the code; links against the files and headings they point at;
the modules against architecture.md. A failure says which doc, which line, and what it names that does not
exist. The last tests plant a wrong command, key and name in a doc and check that each is reported.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest

import callout.config as config_module
from cli import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLES = [ROOT / "config.example.toml", ROOT / "roster-odessa.example.toml"]  # their comments name commands
GLOBAL_OPTIONS = {"--config": True, "-v": False, "--verbose": False, "--help": False}  # name: takes a value


@dataclass(frozen=True)
class Mention:
    """Something a doc names, and where."""

    doc: Path
    line: int
    text: str

    def where(self) -> str:
        """Return "docs/director.md:12" (a doc outside the repository by its name)."""
        name = self.doc.relative_to(ROOT) if self.doc.is_relative_to(ROOT) else self.doc.name
        return f"{name}:{self.line}"


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


def command_mentions(docs: list[Path] = DOCS) -> Iterator[Mention]:
    """Yield every `callout ...` command line the docs show, in prose or in code blocks."""
    for doc in docs:
        for number, line, fence in lines_of(doc):
            if fence is None:
                for match in COMMAND_IN_PROSE.finditer(line):
                    yield Mention(doc, number, match.group(1))
            elif fence not in ("toml", "json"):  # sh, console, ini (systemd), text, and any fence to come
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
    arguments = 0  # the command's positional arguments given so far
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
                command, path, arguments = sub, [*path, token], 0
                continue
            subcommands = ", ".join(sorted(command.list_commands(click.Context(command))))
            return f"`{' '.join(path)}` has no command {token!r} (its commands: {subcommands})"
        # an argument (FILE, ID, a value): as many as the command takes, as its --help says
        arguments += 1
        takes = [p for p in command.params if isinstance(p, click.Argument)]
        if not any(p.nargs < 0 for p in takes) and arguments > sum(p.nargs for p in takes):
            names = " ".join(p.human_readable_name for p in takes) or "none"
            return f"`{' '.join(path)}` takes no argument {token!r} (its arguments: {names})"
    return None


def command_problems(docs: list[Path] = DOCS + EXAMPLES) -> list[str]:
    """Return, for each command line the docs show that `callout --help` does not know, where and why."""
    return [
        f"{m.where()} names `{m.text}`: {why}" for m in command_mentions(docs) if (why := check_command(m))
    ]


def test_every_command_and_option_the_docs_name_exists() -> None:
    assert len(list(command_mentions())) > 30, "the docs should show the command line; did the pattern stop?"
    problems = command_problems()
    assert not problems, "docs name commands or options that `callout --help` does not know:\n" + "\n".join(
        problems
    )


def test_every_command_the_code_tells_people_to_run_exists() -> None:
    packages = ["callout", "cli", "console", "webhooks", "service", "schedules", "transport"]
    files = [f for package in packages for f in (ROOT / package).rglob("*") if f.suffix in (".py", ".html")]
    mentions = [
        Mention(f, number, match.group(1))
        for f in files
        for number, line in enumerate(f.read_text().splitlines(), 1)
        for match in COMMAND_IN_PROSE.finditer(line)
    ]
    assert len(mentions) > 10
    problems = [f"{m.where()} names `{m.text}`: {why}" for m in mentions if (why := check_command(m))]
    assert not problems, "the code names commands `callout --help` does not know:\n" + "\n".join(problems)


def every_command(command: click.Command = cli, path: str = "callout") -> Iterator[str]:
    """Yield every command `callout --help` and its subcommands' help list, groups that run alone included."""
    if not isinstance(command, click.Group):
        yield path
        return
    if command.invoke_without_command:
        yield path
    context = click.Context(command)
    for name in command.list_commands(context):
        sub = command.get_command(context, name)
        assert sub is not None
        yield from every_command(sub, f"{path} {name}")


def missing_commands(docs: list[Path] = DOCS) -> list[str]:
    """Return the commands of `callout --help` and its subcommands that none of the docs shows."""
    commands = list(every_command())
    named = set()
    for mention in command_mentions(
        docs
    ):  # `callout oncall calendar --rotate` shows `callout oncall calendar`
        line = " ".join(words(mention.text))
        named.add(max((c for c in commands if f"{line} ".startswith(f"{c} ")), key=len, default=None))
    return [c for c in commands if c not in named]


def test_every_command_of_callout_help_is_in_a_doc() -> None:
    assert len(list(every_command())) > 20
    missing = missing_commands()
    assert not missing, "commands no doc shows (add them where their reader looks):\n" + "\n".join(missing)


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


def key_problems(docs: list[Path] = DOCS) -> list[str]:
    """Return, for each config key the docs name that config.example.toml does not document, where and why."""
    keys = example_keys()
    problems = []
    for mention, table, key in key_mentions(docs):
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
    return problems


def test_every_config_key_the_docs_name_is_in_config_example_toml() -> None:
    assert len(list(key_mentions())) > 30, "the docs should name config keys; did the pattern stop matching?"
    problems = key_problems()
    assert not problems, "docs name config keys that config.example.toml does not document:\n" + "\n".join(
        problems
    )


def documented_keys(example: Path = ROOT / "config.example.toml") -> dict[str, set[str]]:
    """Return the keys config.example.toml shows by table, commented-out ones (`# key = ...`) included."""
    keys: dict[str, set[str]] = {"": set()}
    table = ""
    for line in example.read_text().splitlines():
        if header := TABLE_HEADER.match(line):
            table = header.group(1)
        elif key := KEY_LINE.match(line):
            keys.setdefault(table, set()).add(key.group(1))
    return keys


def read_keys(monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    """Return the keys callout/config.py accepts, by table, as it reads config.example.toml."""
    accepted: dict[str, set[str]] = {}
    original = config_module._Table.__init__

    def spy(self: Any, data: Any, prefix: str, allowed: set[str]) -> None:
        accepted.setdefault(re.sub(r"\[\d+\]", "", prefix), set()).update(allowed)
        original(self, data, prefix, allowed)

    monkeypatch.setattr(config_module._Table, "__init__", spy)
    config_module.load_config(ROOT / "config.example.toml", env={})
    return accepted


def undocumented(accepted: dict[str, set[str]], documented: dict[str, set[str]]) -> list[str]:
    """Return the keys accepted that documented lacks ("[teams.debrief] tally_every"), tables aside."""
    return [
        f"[{table}] {key}" if table else key
        for table, keys in sorted(accepted.items())
        for key in sorted(keys)
        if key not in documented.get(table, set()) and (f"{table}.{key}" if table else key) not in accepted
    ]


def test_config_example_toml_documents_every_key_callout_reads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    accepted = read_keys(monkeypatch)
    assert {"server", "twilio", "privacy", "teams", "teams.escalation", "teams.debrief"} <= set(accepted)
    missing = undocumented(accepted, documented_keys())
    assert not missing, "keys callout/config.py reads that config.example.toml does not show:\n" + "\n".join(
        missing
    )
    cut = tmp_path / "cut.toml"  # an example that forgot a key is caught
    cut.write_text(re.sub(r"(?m)^tally_every.*\n", "", (ROOT / "config.example.toml").read_text()))
    assert undocumented(accepted, documented_keys(cut)) == ["[teams.debrief] tally_every"]


# --- other names: keys without their table, environment variables, constants, columns ---------------------

SOURCES = [
    "callout",
    "cli",
    "console",
    "webhooks",
    "schedules",
    "transport",
    "service",
    "benchmarks",
    "tests",
]
NAME = re.compile(r"(?<![\w/.<-])([a-z][a-z0-9]*(?:_[a-z0-9]+)+|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+_?)(?![\w(-])")
OUTSIDE_NAMES = {"pg_dump", "tcp_keepalives_idle"}  # PostgreSQL's, not ours


def code_names() -> set[str]:
    """Return every identifier of the code, the tests (but this one), the example files and pyproject.toml."""
    files = [
        f for folder in SOURCES for f in (ROOT / folder).rglob("*") if f.suffix in (".py", ".html", ".yaml")
    ]
    files.remove(Path(__file__).resolve())  # the names it plants to see them fail
    files += [ROOT / "config.example.toml", ROOT / "roster-odessa.example.toml", ROOT / "pyproject.toml"]
    return {name for f in files for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", f.read_text())}


DOTTED = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")  # `escalation.lock`, `requests.contact_enc`
FILE_SUFFIXES = {"py", "md", "toml", "db", "html", "ics", "yaml", "json", "org", "txt", "log", "dump", "env"}
REPO_PATH = re.compile(rf"^(?:{'|'.join(SOURCES)}|docs|\.ci)/[\w./-]*$")  # `callout/voice.py`, `tests/`


def quoted_names(line: str) -> Iterator[tuple[str, str]]:
    """Yield (name, the backquoted text it is in) for each identifier or dotted name a line quotes."""
    for quoted in re.findall(r"`([^`]+)`", line):
        for name in NAME.findall(quoted):
            yield name, quoted
        for word in quoted.split():
            word = word.rstrip(",;:").removesuffix("()")
            if DOTTED.match(word) and word.rsplit(".", 1)[1] not in FILE_SUFFIXES:
                yield from ((part, quoted) for part in word.split("."))


def name_problems(docs: list[Path] = DOCS) -> list[str]:
    """Return, for each name or repository path in backquotes that nothing in the code has, where."""
    known = code_names() | OUTSIDE_NAMES
    prefixes = tuple(n for n in known if re.fullmatch(r"[A-Z]+_[A-Z_]*_", n))  # CALLOUT_DISPATCH_TOKEN_<SLUG>
    problems = []
    for doc in docs:
        for number, line, fence in lines_of(doc):
            if fence is not None:
                continue
            where = Mention(doc, number, line).where()
            for name, quoted in quoted_names(line):
                if name not in known and not name.startswith(prefixes):
                    problems.append(f"{where} names {name} (in `{quoted}`): nothing in the code is called so")
            for quoted in re.findall(r"`([^`]+)`", line):
                for word in quoted.split():
                    if REPO_PATH.match(word) and not (ROOT / word).exists():
                        problems.append(f"{where} names {word}: no such file or folder")
    return problems


def test_every_name_the_docs_quote_is_in_the_code() -> None:
    problems = name_problems()
    assert not problems, "docs name things the code does not have:\n" + "\n".join(problems)


# --- URLs the app serves ------------------------------------------------------------------------------

URL = re.compile(
    r"(?:https?://[\w.:-]+|\{public_url\}|<public_url>|(?<![\w./<-]))"
    r"(/(?:twilio|api/v1|console|calendar|healthz)(?:[/.][^\s`'\",);*\]]*)?)"
)


def url_mentions(docs: list[Path] = DOCS) -> Iterator[Mention]:
    """Yield every path of the app the docs name (`/twilio/sms`, `/api/v1/pages/<code>`), prose or code."""
    for doc in docs:
        for number, line, fence in lines_of(doc):
            if fence != "toml":
                yield from (Mention(doc, number, path) for path in URL.findall(line))


def url_problems(app: Any, docs: list[Path] = DOCS) -> list[str]:
    """Return, for each path the docs name that no route of the app serves, where."""
    # /api/v1/pages/<code> matches /api/v1/pages/K7QD and /api/v1/pages/<code>
    rules = [re.compile(re.sub(r"<[^>]*>", "[^/]+", re.escape(r.rule))) for r in app.url_map.iter_rules()]
    problems = []
    for mention in url_mentions(docs):
        path = mention.text.replace("...", "x")
        served = any(rule.fullmatch(path) for rule in rules) or (
            path.endswith("/") and any(rule.pattern.startswith(re.escape(path)) for rule in rules)
        )
        if not served:
            problems.append(f"{mention.where()} names {mention.text}: the app serves no such path")
    return problems


def test_every_path_the_docs_name_is_served_by_the_app(app: Any) -> None:
    assert len(list(url_mentions())) > 20, "the docs should name the webhooks; did the pattern stop matching?"
    problems = url_problems(app)
    assert not problems, "docs name paths the app does not serve:\n" + "\n".join(problems)


# --- architecture.md names every module where it lives ---------------------------------------------------

PACKAGES = ["callout", "cli", "service", "webhooks", "console", "schedules", "transport", "benchmarks"]


def layout_bullets(doc: Path) -> dict[str, str]:
    """Return the text of each top-level bullet of the doc's Layout section, by the package it opens with."""
    text = doc.read_text()
    section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    bullets = re.split(r"^- ", section, flags=re.MULTILINE)[1:]
    return {m.group(1): bullet for bullet in bullets if (m := re.match(r"`(\w+)/`", bullet))}


def unplaced_modules(doc: Path) -> list[str]:
    """Return the modules of the packages that the doc's Layout does not name in their package's bullet."""
    bullets = layout_bullets(doc)
    missing = []
    for package in PACKAGES:
        for module in sorted((ROOT / package).glob("*.py")):
            if module.name == "__init__.py":
                continue  # a package's __init__ is the package, which its bullet names
            if f"`{module.name}`" not in bullets.get(package, ""):
                missing.append(f"{package}/{module.name}")
    return missing


def test_architecture_md_places_every_module_in_its_package() -> None:
    doc = ROOT / "docs" / "architecture.md"
    assert set(layout_bullets(doc)) >= {*PACKAGES, "tests"}
    missing = unplaced_modules(doc)
    assert not missing, (
        "modules docs/architecture.md's Layout does not name under their package:\n" + "\n".join(missing)
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


def test_a_doc_that_names_what_does_not_exist_fails_every_check(tmp_path: Path, app: Any) -> None:
    doc = tmp_path / "drift.md"
    doc.write_text(
        "# Drift\n\n"
        "Run `callout rooster import FILE`, `callout report --form 2026-01-01` or `callout keygen now`.\n"
        "```sh\ncallout privacy scrub   # a comment\n```\n"
        "```bash\n$ .venv/bin/callout user ad chief\n```\n"
        "Set `[teams] shift_notic`, `reminder_aftr` and `CALLOUT_DATA_KY`; see `escalation.lok`.\n"
        '```toml\n[teams.escalation]\nack_timout = "5m"\n```\n'
        "The code is in `callout/voyce.py`; Twilio posts to `https://peer.example.org/twilio/smss`.\n"
    )
    problems = command_problems([doc]) + key_problems([doc]) + name_problems([doc]) + url_problems(app, [doc])
    for expected in (
        "drift.md:3 names `callout rooster import FILE`: `callout` has no command 'rooster'",
        "drift.md:3 names `callout report --form 2026-01-01`: `callout report` has no option --form",
        "drift.md:3 names `callout keygen now`: `callout keygen` takes no argument 'now'",
        "drift.md:5 names `callout privacy scrub`: `callout privacy` has no command 'scrub'",
        "drift.md:8 names `callout user ad chief`: `callout user` has no command 'ad'",
        "drift.md:10 names [teams] shift_notic: config.example.toml has no such key",
        "drift.md:10 names shift_notic (in `[teams] shift_notic`): nothing in the code is called so",
        "drift.md:10 names reminder_aftr (in `reminder_aftr`): nothing in the code is called so",
        "drift.md:10 names CALLOUT_DATA_KY (in `CALLOUT_DATA_KY`): nothing in the code is called so",
        "drift.md:10 names lok (in `escalation.lok`): nothing in the code is called so",
        "drift.md:13 names [teams.escalation] ack_timout: config.example.toml has no such key",
        "drift.md:15 names callout/voyce.py: no such file or folder",
        "drift.md:15 names /twilio/smss: the app serves no such path",
    ):
        assert any(expected in p for p in problems), (expected, problems)
    assert len(problems) == 13, problems
    missing = missing_commands([doc])
    assert "callout print card" in missing and "callout oncall" in missing and "callout keygen" not in missing
