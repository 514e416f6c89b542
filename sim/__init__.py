"""channel-sim: an agent-based model of the migrant-smuggling market across the English Channel.

Common tasks are one call each::

    import sim
    cfg = sim.load_config("pilot_50")          # a shipped scenario, or a path
    res = sim.run(cfg, seed=1)                 # res.timeseries, res.summary
    model = sim.ChannelModel(cfg, rng=1)       # the Mesa model; model.step() is one day
    cmp = sim.compare(["baseline", "pilot_50"], replications=10, seed=1)   # paired, with CIs
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from sim.config import ConfigError, load_config
from sim.experiments.analysis import compare
from sim.model import ChannelModel
from sim.params import Config
from sim.simulate import RunResult, run

__all__ = ["ChannelModel", "Config", "ConfigError", "RunResult", "compare", "load_config", "run", "__version__"]

try:  # the one version source is pyproject.toml, read from the installed metadata
    __version__ = _version("channel-sim")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
