"""The interactive dashboard (``sim/app.py`` serves it), in three modules along its seams:

* ``sim.dashboard.model``: the inputs, the configuration they make, ``DashboardModel``
  and ``verdict_now`` (no Solara: usable wherever the model is);
* ``sim.dashboard.figures``: the matplotlib pictures of a running model;
* ``sim.dashboard.page``: the Solara components and ``make_page`` (the SolaraViz).
"""
