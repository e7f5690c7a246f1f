"""The dashboard process's start-up heap, kept out of the garbage collector's full passes.

A dashboard process holds ~0.2 GB of long-lived objects once its first page has run: the
modules of Streamlit, plotly, pandas, SQLAlchemy and networkx. Python's collector walks all of
them in every full collection, which it starts by itself as a page's queries allocate (rows,
dicts), and which took a page's queries from ~170 to ~260-350 ms at p95 on the 1M SQLite
benchmark store (docs/benchmarks/dashboard.md, "The heap frozen"). `gc.freeze()` moves
everything alive at that moment into a generation the collector never scans; later garbage is
still collected. No Streamlit import here: the query benchmark calls it too.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_start_up_heap() -> bool:
    """Collect once, then freeze what is left; only the first call in a process does it
    (True then). Called at the end of the dashboard's first script run, when the pages'
    modules are loaded."""
    global _frozen
    if _frozen:
        return False
    gc.collect()
    gc.freeze()
    _frozen = True
    return True
