"""Configuration: config.toml plus secrets from the environment, parsed once into frozen objects.

Long on purpose: every key of config.example.toml is parsed and checked here, section by section, so that a
bad value stops the start with a message naming its key, and the checks across sections sit with them.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callout import durations, messages, segments
from callout.commands import CODE_ALPHABET, looks_like_code
from callout.crypto import InvalidKey, check_key
from callout.phones import InvalidPhone, to_e164

DEFAULT_CONTENT_AREAS = (
    "work",
    "family",
    "critical-incident",
    "grief",
    "health",
    "financial",
    "substance",
    "other",
)
ROLES = ("peer", "psychologist", "director", "dispatch")
MAX_DURATION = timedelta(days=365)  # longer is a typo; far longer would overflow datetime arithmetic


class ConfigError(Exception):
    """A configuration value is missing or wrong; the message names the key."""


@dataclass(frozen=True)
class ServerConfig:
    """The [server] table."""

    public_url: str = "http://127.0.0.1:5000"
    database_url: str = "sqlite:///callout.db"
    verify_signatures: bool = True
    tick: timedelta = timedelta(seconds=0.5)
    scheduler: bool = True
    max_body: int = 64 * 1024
    senders: int = 48  # threads handing messages to the provider: 240 a second at 200 ms a call


@dataclass(frozen=True)
class TwilioConfig:
    """The [twilio] table."""

    account_sid: str = ""
    auth_token: str = ""
    api_base_url: str = ""
    messaging_service_sid: str = ""
    timeout: timedelta = timedelta(seconds=10)

    @property
    def enabled(self) -> bool:
        """Tell whether a Twilio account is configured (else the console transport is used)."""
        return bool(self.account_sid)


@dataclass(frozen=True)
class PrivacyConfig:
    """The [privacy] table."""

    data_key: str = ""
    purge_after: timedelta = timedelta(hours=24)
    close_after: timedelta = timedelta(hours=72)
    delete_provider_records: bool = False


@dataclass(frozen=True)
class LimitsConfig:
    """The [limits] table: inbound rate limits that keep one sender from flooding a team."""

    per_number: int = 60
    per_team: int = 600
    window: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class ConsoleConfig:
    """The [console] table: the director's console (sessions, login throttling, two-factor codes)."""

    secret_key: str = ""
    session_timeout: timedelta = timedelta(minutes=30)
    require_totp: bool = False
    user_attempts: int = 5
    address_attempts: int = 20
    lockout: timedelta = timedelta(minutes=15)
    proxies: int = 0


@dataclass(frozen=True)
class EscalationConfig:
    """A team's [teams.escalation] table."""

    ack_timeout: timedelta = timedelta(minutes=5)
    peers: int = 3
    call_after: timedelta = timedelta(minutes=2)
    fallback: tuple[str, ...] = ("psychologist", "director")
    fallback_timeout: timedelta = timedelta(minutes=10)
    reminder_after: timedelta = timedelta(hours=2)


@dataclass(frozen=True)
class DebriefConfig:
    """A team's [teams.debrief] table."""

    window: timedelta = timedelta(hours=2)
    min_responders: int = 2
    widen_after: timedelta = timedelta(minutes=10)
    tally_every: timedelta = timedelta(seconds=30)


@dataclass(frozen=True)
class TeamConfig:
    """One [[teams]] entry."""

    slug: str
    name: str
    support_number: str
    timezone: str = "America/Chicago"
    handoff: time = time(7, 0)
    roster: Path | None = None
    dispatch_token: str = ""
    content_areas: tuple[str, ...] = DEFAULT_CONTENT_AREAS
    confidentiality_limits: str = messages.DEFAULT_LIMITS
    escalation: EscalationConfig = field(default_factory=EscalationConfig)
    debrief: DebriefConfig = field(default_factory=DebriefConfig)
    shift_notice: timedelta = timedelta(hours=12)  # heads-up before each member's shift; 0: none

    @property
    def zone(self) -> ZoneInfo:
        """Return the team's time zone."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Config:
    """The whole configuration."""

    server: ServerConfig = field(default_factory=ServerConfig)
    twilio: TwilioConfig = field(default_factory=TwilioConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    teams: tuple[TeamConfig, ...] = ()
    path: Path | None = None

    def team(self, slug: str) -> TeamConfig:
        """Return the team with this slug; raise ConfigError if there is none."""
        for team in self.teams:
            if team.slug == slug:
                return team
        known = ", ".join(t.slug for t in self.teams) or "none configured"
        raise ConfigError(f"unknown team {slug!r} (teams: {known})")

    def team_by_number(self, number: str) -> TeamConfig | None:
        """Return the team whose support number is this E.164 number, if any."""
        for team in self.teams:
            if team.support_number == number:
                return team
        return None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


MAX_SHIFT_NOTICE = timedelta(days=3)


def parse_duration(value: object, key: str) -> timedelta:
    """Parse "90s", "5m", "2h", "1d" or a number of seconds, up to 365 days; raise ConfigError naming key."""
    expected = ConfigError(f'{key}: expected a duration such as "90s", "5m" or "2h", got {value!r}')
    seconds: float
    if isinstance(value, bool):
        raise expected
    if isinstance(value, int | float):
        seconds = value
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise expected
    if isinstance(seconds, float) and math.isnan(seconds):
        raise expected
    if seconds < 0:
        raise ConfigError(f"{key}: a duration cannot be negative, got {value!r}")
    if seconds > MAX_DURATION.total_seconds():  # also infinity, and integers too big for a float
        raise ConfigError(f"{key}: must be at most {durations.toml(MAX_DURATION)}, got {value!r}")
    return timedelta(seconds=seconds)


class _Table:
    """Read typed values out of one TOML table, remembering the key path for messages."""

    def __init__(self, data: Mapping[str, Any], prefix: str, allowed: set[str]) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{prefix}: expected a table")
        self.data = data
        self.prefix = prefix
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ConfigError(f"{self.key(unknown[0])}: unknown key (known: {', '.join(sorted(allowed))})")

    def key(self, name: str) -> str:
        """Return the full dotted name of a key."""
        return f"{self.prefix}.{name}" if self.prefix else name

    def text(self, name: str, default: str) -> str:
        """Read a string."""
        value = self.data.get(name, default)
        if not isinstance(value, str):
            raise ConfigError(f"{self.key(name)}: expected a string, got {value!r}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        """Read a boolean."""
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.key(name)}: expected true or false, got {value!r}")
        return value

    def number(self, name: str, default: int, minimum: int = 0) -> int:
        """Read an integer not below minimum."""
        value = self.data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"{self.key(name)}: expected a whole number >= {minimum}, got {value!r}")
        return value

    def duration(self, name: str, default: timedelta) -> timedelta:
        """Read a duration."""
        if name not in self.data:
            return default
        return parse_duration(self.data[name], self.key(name))

    def strings(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """Read a list of strings."""
        value = self.data.get(name, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{self.key(name)}: expected a list of strings, got {value!r}")
        return tuple(value)


def _secret(table: _Table, name: str, env: Mapping[str, str], variable: str) -> str:
    """Read a secret from the environment variable if set, else from the file."""
    return env.get(variable) or table.text(name, "")


def _server(data: Mapping[str, Any]) -> ServerConfig:
    t = _Table(
        data,
        "server",
        {"public_url", "database_url", "verify_signatures", "tick", "scheduler", "max_body", "senders"},
    )
    public_url = t.text("public_url", ServerConfig.public_url).rstrip("/")
    if not re.match(r"^https?://[^/\s]+", public_url):
        raise ConfigError(f"server.public_url: expected an http(s) URL, got {public_url!r}")
    database_url = t.text("database_url", ServerConfig.database_url)
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", database_url):
        raise ConfigError(
            f"server.database_url: expected sqlite:///FILE or postgresql+psycopg://..., got {database_url!r}"
        )
    tick = t.duration("tick", ServerConfig.tick)
    if not timedelta(milliseconds=50) <= tick <= timedelta(seconds=1):
        raise ConfigError(
            f"server.tick: must be between 50ms and 1s so timeouts fire on time, got {durations.toml(tick)}"
        )
    return ServerConfig(
        public_url=public_url,
        database_url=database_url,
        verify_signatures=t.flag("verify_signatures", True),
        tick=tick,
        scheduler=t.flag("scheduler", True),
        max_body=t.number("max_body", ServerConfig.max_body, minimum=1024),
        senders=t.number("senders", ServerConfig.senders, minimum=1),
    )


def _twilio(data: Mapping[str, Any], env: Mapping[str, str]) -> TwilioConfig:
    t = _Table(
        data, "twilio", {"account_sid", "auth_token", "api_base_url", "messaging_service_sid", "timeout"}
    )
    account_sid = _secret(t, "account_sid", env, "TWILIO_ACCOUNT_SID")
    auth_token = _secret(t, "auth_token", env, "TWILIO_AUTH_TOKEN")
    if account_sid and not auth_token:
        raise ConfigError("twilio.auth_token: required when twilio.account_sid is set (or TWILIO_AUTH_TOKEN)")
    api_base_url = t.text("api_base_url", "").rstrip("/")
    if api_base_url and not re.match(r"^https?://[^/\s]+", api_base_url):
        raise ConfigError(f"twilio.api_base_url: expected an http(s) URL, got {api_base_url!r}")
    service = t.text("messaging_service_sid", "")
    if service and not re.fullmatch(r"MG[0-9a-fA-F]{32}", service):
        raise ConfigError(
            f"twilio.messaging_service_sid: expected MG followed by 32 hex digits, got {service!r}"
        )
    timeout = t.duration("timeout", TwilioConfig.timeout)
    if not timedelta(seconds=1) <= timeout <= timedelta(seconds=30):
        # A send a crash interrupted goes out again after twice this (outbox.stuck_after): keep it short.
        raise ConfigError(
            "twilio.timeout: must be between 1s and 30s (a page a crash interrupted is sent again after"
            f" twice this), got {durations.toml(timeout)}"
        )
    return TwilioConfig(account_sid, auth_token, api_base_url, service, timeout)


def _privacy(data: Mapping[str, Any], env: Mapping[str, str], twilio: TwilioConfig) -> PrivacyConfig:
    t = _Table(data, "privacy", {"data_key", "purge_after", "close_after", "delete_provider_records"})
    data_key = _secret(t, "data_key", env, "CALLOUT_DATA_KEY")
    if data_key:
        try:
            check_key(data_key)
        except InvalidKey as exc:
            raise ConfigError(f"privacy.data_key: {exc} (run `callout keygen` for a new one)") from None
    elif twilio.enabled:
        raise ConfigError(
            "privacy.data_key: required when a Twilio account is set (env CALLOUT_DATA_KEY; `callout keygen`)"
        )
    return PrivacyConfig(
        data_key=data_key,
        purge_after=t.duration("purge_after", PrivacyConfig.purge_after),
        close_after=t.duration("close_after", PrivacyConfig.close_after),
        delete_provider_records=t.flag("delete_provider_records", False),
    )


def _limits(data: Mapping[str, Any]) -> LimitsConfig:
    t = _Table(data, "limits", {"per_number", "per_team", "window"})
    return LimitsConfig(
        per_number=t.number("per_number", LimitsConfig.per_number, minimum=1),
        per_team=t.number("per_team", LimitsConfig.per_team, minimum=1),
        window=t.duration("window", LimitsConfig.window),
    )


def _console(data: Mapping[str, Any], env: Mapping[str, str]) -> ConsoleConfig:
    t = _Table(
        data,
        "console",
        {
            "secret_key",
            "session_timeout",
            "require_totp",
            "user_attempts",
            "address_attempts",
            "lockout",
            "proxies",
        },
    )
    secret = _secret(t, "secret_key", env, "CALLOUT_CONSOLE_SECRET")
    if secret and len(secret) < 16:
        raise ConfigError(
            "console.secret_key: too short: use at least 16 random characters (or leave it empty)"
        )
    timeout = t.duration("session_timeout", ConsoleConfig.session_timeout)
    if not timedelta(minutes=1) <= timeout <= timedelta(hours=24):
        raise ConfigError(
            f"console.session_timeout: must be between 1m and 24h, got {durations.toml(timeout)}"
        )
    lockout = t.duration("lockout", ConsoleConfig.lockout)
    if lockout < timedelta(seconds=1):
        raise ConfigError(f"console.lockout: must be at least 1s, got {durations.toml(lockout)}")
    return ConsoleConfig(
        secret_key=secret,
        session_timeout=timeout,
        require_totp=t.flag("require_totp", False),
        user_attempts=t.number("user_attempts", ConsoleConfig.user_attempts, minimum=1),
        address_attempts=t.number("address_attempts", ConsoleConfig.address_attempts, minimum=1),
        lockout=lockout,
        proxies=t.number("proxies", ConsoleConfig.proxies, minimum=0),
    )


def _escalation(data: Mapping[str, Any], prefix: str) -> EscalationConfig:
    t = _Table(
        data, prefix, {"ack_timeout", "peers", "call_after", "fallback", "fallback_timeout", "reminder_after"}
    )
    fallback = t.strings("fallback", EscalationConfig.fallback)
    for role in fallback:
        if role not in ROLES or role == "dispatch":
            raise ConfigError(f"{t.key('fallback')}: unknown role {role!r} (peer, psychologist, director)")
    ack = t.duration("ack_timeout", EscalationConfig.ack_timeout)
    fallback_timeout = t.duration("fallback_timeout", EscalationConfig.fallback_timeout)
    for name, value in (("ack_timeout", ack), ("fallback_timeout", fallback_timeout)):
        if value <= timedelta(0):
            raise ConfigError(f"{t.key(name)}: must be longer than zero")
    return EscalationConfig(
        ack_timeout=ack,
        peers=t.number("peers", EscalationConfig.peers, minimum=1),
        call_after=t.duration("call_after", EscalationConfig.call_after),
        fallback=fallback,
        fallback_timeout=fallback_timeout,
        reminder_after=t.duration("reminder_after", EscalationConfig.reminder_after),
    )


def _debrief(data: Mapping[str, Any], prefix: str) -> DebriefConfig:
    t = _Table(data, prefix, {"window", "min_responders", "widen_after", "tally_every"})
    return DebriefConfig(
        window=t.duration("window", DebriefConfig.window),
        min_responders=t.number("min_responders", DebriefConfig.min_responders, minimum=1),
        widen_after=t.duration("widen_after", DebriefConfig.widen_after),
        tally_every=t.duration("tally_every", DebriefConfig.tally_every),
    )


def _content_areas(t: _Table) -> tuple[str, ...]:
    """Read content_areas: each one word a member can text after DONE (lowercased, as DONE reads it)."""
    key = t.key("content_areas")
    areas = tuple(area.lower() for area in t.strings("content_areas", DEFAULT_CONTENT_AREAS))
    if not areas:
        raise ConfigError(f"{key}: needs at least one area")
    for i, area in enumerate(areas):
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", area):
            raise ConfigError(
                f"{key}: {area!r} must be one lowercase word of letters, digits, dashes or underscores"
                " (DONE reads one word per area)"
            )
        if area == "ot":
            raise ConfigError(f"{key}: 'ot' cannot be an area: DONE ... OT means overtime")
        if looks_like_code(area):
            raise ConfigError(
                f"{key}: {area!r} cannot be an area: DONE would read it as a request code"
                f" (4 of {CODE_ALPHABET})"
            )
        if area in areas[:i]:
            raise ConfigError(f"{key}: {area!r} is listed twice")
    return areas


def _confidentiality_limits(t: _Table) -> str:
    """Read the sentence that tells a requester where confidentiality ends: one line of GSM-7 text."""
    key = t.key("confidentiality_limits")
    sentence = " ".join(t.text("confidentiality_limits", messages.DEFAULT_LIMITS).split())
    if not sentence:
        raise ConfigError(f"{key}: must say where confidentiality ends (leave the key out for the default)")
    outside = segments.outside_gsm7(sentence)
    if outside:
        raise ConfigError(
            f"{key}: {segments.suggestion(outside)} is not a plain SMS character (GSM-7) and would make every"
            " text that carries this sentence two to three times longer; type it plainly"
        )
    if sentence[-1] not in ".!":
        sentence += "."  # it is followed by another sentence in every text that carries it
    return sentence


def _check_budgets(team: TeamConfig, index: int, purge_after: timedelta) -> None:
    """Refuse a team whose first reply or PRIVACY answer would not fit its SMS budget, naming the key."""
    prefix = f"teams[{index}]"
    limits = team.confidentiality_limits
    texts = (
        (
            "the first reply to someone who texts the line",
            messages.requester_ack(team.name, limits),
            messages.ACK_SEGMENTS,
        ),
        (
            "the answer to PRIVACY",
            messages.privacy_statement(durations.short(purge_after), limits),
            messages.PRIVACY_SEGMENTS,
        ),
    )
    for what, text, budget in texts:
        counted = segments.count(text)
        if counted.count <= budget:
            continue
        if counted.outside and segments.outside_gsm7(team.name):
            raise ConfigError(
                f"{prefix}.name: {segments.suggestion(segments.outside_gsm7(team.name))} is not a plain SMS"
                f" character (GSM-7), so {what} would take {counted}, more than {budget}; type it plainly"
            )
        per = segments.SINGLE if budget == 1 else segments.CONCATENATED
        room = per[counted.encoding] * budget
        over = counted.units - room
        also = f" (or {prefix}.name)" if "reply" in what else ""
        raise ConfigError(
            f"{prefix}.confidentiality_limits: {what} would take {counted}, more than {budget};"
            f" shorten this sentence{also} by at least {over} characters"
        )


def _team(data: Mapping[str, Any], index: int, env: Mapping[str, str], base: Path | None) -> TeamConfig:
    prefix = f"teams[{index}]"
    t = _Table(
        data,
        prefix,
        {
            "slug",
            "name",
            "support_number",
            "timezone",
            "handoff",
            "roster",
            "dispatch_token",
            "content_areas",
            "confidentiality_limits",
            "escalation",
            "debrief",
            "shift_notice",
        },
    )
    slug = t.text("slug", "")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", slug):
        raise ConfigError(f"{prefix}.slug: expected lowercase letters, digits and dashes, got {slug!r}")
    try:
        support_number = to_e164(t.text("support_number", ""))
    except InvalidPhone as exc:
        raise ConfigError(f"{prefix}.support_number: {exc}") from None
    timezone = t.text("timezone", TeamConfig.timezone)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "America" is a folder of the zone database
        raise ConfigError(f"{prefix}.timezone: unknown time zone {timezone!r}") from None
    handoff_text = t.text("handoff", "07:00")
    match = re.fullmatch(r"([01][0-9]|2[0-3]):([0-5][0-9])", handoff_text)
    if not match:
        raise ConfigError(f"{prefix}.handoff: expected HH:MM in 24-hour time, got {handoff_text!r}")
    roster_text = t.text("roster", "")
    if "\0" in roster_text:
        raise ConfigError(f"{prefix}.roster: a file name cannot hold a NUL character, got {roster_text!r}")
    roster = None
    if roster_text:
        roster = Path(roster_text)
        if not roster.is_absolute() and base is not None:
            roster = base / roster
    areas = _content_areas(t)
    limits = _confidentiality_limits(t)
    shift_notice = t.duration("shift_notice", TeamConfig.shift_notice)
    if shift_notice > MAX_SHIFT_NOTICE:  # a notice is remembered for a week (job_runs), so sent once
        raise ConfigError(
            f"{prefix}.shift_notice: must be at most {durations.toml(MAX_SHIFT_NOTICE)}, got"
            f" {durations.toml(shift_notice)}"
        )
    env_token = f"CALLOUT_DISPATCH_TOKEN_{slug.upper().replace('-', '_')}"
    return TeamConfig(
        slug=slug,
        name=t.text("name", slug),
        support_number=support_number,
        timezone=timezone,
        handoff=time(int(match.group(1)), int(match.group(2))),
        roster=roster,
        dispatch_token=_secret(t, "dispatch_token", env, env_token),
        content_areas=areas,
        confidentiality_limits=limits,
        escalation=_escalation(data.get("escalation", {}), f"{prefix}.escalation"),
        debrief=_debrief(data.get("debrief", {}), f"{prefix}.debrief"),
        shift_notice=shift_notice,
    )


def parse_config(data: Mapping[str, Any], env: Mapping[str, str], path: Path | None = None) -> Config:
    """Build a Config from parsed TOML and the environment; raise ConfigError naming the bad key."""
    _Table(data, "", {"server", "twilio", "privacy", "limits", "console", "teams"})
    twilio = _twilio(data.get("twilio", {}), env)
    teams_data = data.get("teams", [])
    if not isinstance(teams_data, list):
        raise ConfigError("teams: expected [[teams]] entries")
    base = path.parent if path else None
    teams = tuple(_team(item, i, env, base) for i, item in enumerate(teams_data))
    for attribute in ("slug", "support_number"):
        values = [getattr(team, attribute) for team in teams]
        for i, value in enumerate(values):
            if value in values[:i]:
                raise ConfigError(f"teams[{i}].{attribute}: {value!r} is used by another team")
    privacy = _privacy(data.get("privacy", {}), env, twilio)
    for i, team in enumerate(teams):
        _check_budgets(team, i, privacy.purge_after)
        reminder = team.escalation.reminder_after
        if reminder >= privacy.close_after:  # the request would be closed before anyone is reminded
            raise ConfigError(
                f"teams[{i}].escalation.reminder_after: {durations.toml(reminder)} must be shorter than"
                f" privacy.close_after ({durations.toml(privacy.close_after)}),"
                " else no reminder is ever sent"
            )
    server = _server(data.get("server", {}))
    if twilio.enabled and not server.verify_signatures:
        # Unsigned webhooks would let anyone open requests, answer pages, or hear whom a call rings.
        raise ConfigError(
            "server.verify_signatures: must be true when a Twilio account is set (false is for local"
            " experiments on the console transport only)"
        )
    return Config(
        server=server,
        twilio=twilio,
        privacy=privacy,
        limits=_limits(data.get("limits", {})),
        console=_console(data.get("console", {}), env),
        teams=teams,
        path=path,
    )


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load --config PATH, else $CALLOUT_CONFIG, else ./config.toml, else the embedded defaults."""
    env = os.environ if env is None else env
    if path is None:
        if env.get("CALLOUT_CONFIG"):
            path = Path(env["CALLOUT_CONFIG"])
        elif Path("config.toml").exists():
            path = Path("config.toml")
        else:
            return parse_config({}, env)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: not found") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path}: is a folder, not a file") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(f"config file {path}: not UTF-8 text (line {line}); save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML: {exc}") from None
    config = parse_config(data, env, path.resolve())
    database_url = config.server.database_url
    if database_url.startswith("sqlite:///") and not database_url.startswith("sqlite:////"):
        relative = database_url.removeprefix("sqlite:///")
        if relative and relative != ":memory:":
            absolute = (path.resolve().parent / relative).as_posix()
            config = _replace_server(config, database_url=f"sqlite:///{absolute}")
    return config


def _replace_server(config: Config, **changes: Any) -> Config:
    return replace(config, server=replace(config.server, **changes))
