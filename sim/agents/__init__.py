"""The four kinds of agent: migrants, smuggling gangs, border patrols, the returns authority."""

from sim.agents.gang import SmugglingGang
from sim.agents.migrant import Migrant, MigrantState
from sim.agents.patrol import BorderPatrol
from sim.agents.returns import ReturnsAuthority

__all__ = ["BorderPatrol", "Migrant", "MigrantState", "ReturnsAuthority", "SmugglingGang"]
