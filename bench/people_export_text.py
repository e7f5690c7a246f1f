"""What keying a person's own hosts in text costs a pseudonymised export (issue 20).

    python bench/people_export_text.py [--mentions 3000] [--texts 100000] [--repeat 3]

A pseudonymised export now replaces a linked person's host named in free text without a
scheme ("I read gpreflections.blog": a blog's host, a Bluesky domain handle, a verified site)
by their account reference (`groundswell.export.links.LinkPolicy._bare_hosts`). This loads
the demo conversation into a temporary SQLite store and times `LinkPolicy.text` over its post
texts (repeated to `--texts`), with the bare-host step and without it (the baseline, the
step replaced by identity), in the same run: CPU seconds of this process (load-independent),
best of `--repeat`. The export itself spends about 200 us per row (docs/benchmarks/export.md),
so the per-text difference printed is what it adds to each row.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from groundswell.demo import load_demo  # noqa: E402
from groundswell.export.links import LinkPolicy  # noqa: E402
from groundswell.export.pseudonym import Pseudonymiser  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Mention  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mentions", type=int, default=3000)
    ap.add_argument("--texts", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/demo.db")
        upgrade(engine)
        load_demo(engine, seed=3, mentions=args.mentions, now=datetime(2026, 11, 25, tzinfo=UTC))
        with engine.connect() as conn:
            texts = [t for (t,) in conn.execute(select(Mention.__table__.c.text)) if t]
            policy = LinkPolicy(conn, pseudo=Pseudonymiser(b"k" * 32))
        engine.dispose()
    texts = (texts * (args.texts // len(texts) + 1))[: args.texts]
    step = LinkPolicy._bare_hosts

    def run() -> float:
        start = time.process_time()
        for t in texts:
            policy.text(t)
        return time.process_time() - start

    best: dict[str, float] = {}
    for _ in range(args.repeat):
        LinkPolicy._bare_hosts = lambda self, value: value  # type: ignore[method-assign]
        best["without"] = min(best.get("without", 1e9), run())
        LinkPolicy._bare_hosts = step  # type: ignore[method-assign]
        best["with"] = min(best.get("with", 1e9), run())
    per_text_us = (best["with"] - best["without"]) / len(texts) * 1e6
    print(
        f"{len(texts):,} texts, {len(policy.blog_hosts)} person hosts; CPU s without "
        f"{best['without']:.3f}, with {best['with']:.3f}: +{per_text_us:.2f} us a text "
        f"({per_text_us / 200 * 100:.1f}% of an export's ~200 us a row); "
        f"load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
