"""The offline demo: a generated #NHSCitizen conversation replayed through the real pipeline.

`load_demo(engine)` writes three weeks of history ending now (for tests and `groundswell up`);
`groundswell demo --speed 1x` keeps new posts arriving in real time afterwards.
"""

from groundswell.demo.load import DemoError, DemoSummary, load_demo, replay_live, set_demo_wall

__all__ = ["DemoError", "DemoSummary", "load_demo", "replay_live", "set_demo_wall"]
