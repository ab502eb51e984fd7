"""What domain functions need besides a session and the time: the configuration and the vault."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from callout.config import Config, TeamConfig
from callout.crypto import Vault, new_key
from callout.lineup import Lineups
from callout.models import Team

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Env:
    """The configuration and the vault that encrypts contact details."""

    config: Config
    vault: Vault
    lineups: Lineups = field(init=False, compare=False, repr=False)  # the rosters cached for this vault

    def __post_init__(self) -> None:
        object.__setattr__(self, "lineups", Lineups(self.vault))

    def team(self, team: Team) -> TeamConfig:
        """Return the configuration of a team row; raise ConfigError if it is no longer configured."""
        return self.config.team(team.slug)

    def configured(self, team: Team) -> TeamConfig | None:
        """Return the configuration of a team row, or None if the team was removed from the config."""
        return next((t for t in self.config.teams if t.slug == team.slug), None)


def make_env(config: Config) -> Env:
    """Build the Env; without a data_key (console only) use a throw-away key for this process."""
    key = config.privacy.data_key
    if not key:
        log.warning("no [privacy] data_key: using a throw-away key; open requests won't survive a restart")
        key = new_key()
    return Env(config, Vault(key))
