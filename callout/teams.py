"""Teams: the rows that mirror each [[teams]] entry of the configuration."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from callout.config import Config, TeamConfig
from callout.db import exclusive
from callout.models import Team


class UnknownTeam(LookupError):
    """No team has this slug or number."""


def sync_teams(session: Session, config: Config) -> dict[str, Team]:
    """Create or update a Team row for each configured team; return them by slug."""
    exclusive(session)  # every worker syncs at start: one after the other, each seeing the last one's rows
    rows = {team.slug: team for team in session.scalars(select(Team))}
    for team_config in config.teams:
        row = rows.get(team_config.slug)
        if row is None:
            row = Team(slug=team_config.slug)
            session.add(row)
            rows[team_config.slug] = row
        row.name = team_config.name
        row.support_number = team_config.support_number
        row.timezone = team_config.timezone
        row.handoff = team_config.handoff.strftime("%H:%M")
    session.flush()
    return {slug: row for slug, row in rows.items() if any(t.slug == slug for t in config.teams)}


_BY_SLUG = select(Team).where(Team.slug == bindparam("slug"))  # built once: read by every webhook


def get_team(session: Session, team_config: TeamConfig) -> Team:
    """Return the Team row of a configured team; raise UnknownTeam if it was never synced."""
    team = session.scalar(_BY_SLUG, {"slug": team_config.slug})
    if team is None:
        raise UnknownTeam(f"team {team_config.slug!r} is not in the database; run `callout db upgrade`")
    return team
