"""The scheduled people-linking pass of `collect --loop` and `up` (collectors/people_pass.py;
docs/people.md, "When linking runs").

A blog whose home page (served by a real local HTTP server) links a Mastodon profile with
`rel="me"`, and that profile's field linking the blog back: the pass links them, through the
guarded fetcher and robots.txt. A second blog's page answers 503: the pass says so (typed,
kept for `status`) and collection goes on. The due time and the walk's position are stored,
so a pass is not run again before it is due, and each pass does a bounded amount of work.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, text

from collectors.people_pass import run_due_pass
from domain.people import CLAIM, PROFILE_LINK, Claim
from domain.records import AccountRecord, Batch
from domain.settings.config import Settings
from storage.engine import write_tx
from storage.models import Account
from storage.people_links import people_pass_status
from storage.write import write_batch
from tests.factories import T0, movement

pytestmark = pytest.mark.xdist_group("people_pass")

ROOT = Path(__file__).resolve().parents[1]
A = Account.__table__
T0_EPOCH = int(T0.timestamp())


class _Site(BaseHTTPRequestHandler):
    """The nurse's blog (`/nurse/`, rel=me to her Mastodon profile), a blog that is down
    (`/down/`: 503), robots.txt, and a feed of numbered posts for the loop's one source."""

    routes: ClassVar[dict[str, tuple[int, bytes]]] = {}
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        parts = urlsplit(self.path)
        if parts.path == "/posts":  # tests/plugins/numbered.py
            after = int(parse_qs(parts.query).get("after", ["0"])[0])
            items = [
                {"n": n, "ts": T0_EPOCH + n * 60, "text": f"Post {n} #NHSCitizen"}
                for n in range(after + 1, min(after + 5, 40) + 1)
            ]
            status, body = 200, json.dumps({"items": items}).encode()
        else:
            status, body = self.routes.get(self.path, (404, b"no"))
        self.send_response(status)
        kind = "text/plain" if self.path == "/robots.txt" else "text/html"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    _Site.hits = []
    _Site.routes = {
        "/robots.txt": (200, b"User-agent: *\nDisallow: /private\n"),
        "/nurse/": (
            200,
            b'<html><body><a rel="me" href="https://example.social/@nurse">me</a></body></html>',
        ),
        "/down/": (503, b"maintenance"),
    }
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _seed(store, base: str, extra: int = 0) -> None:
    rules = movement(store)
    nurse = AccountRecord(
        platform="mastodon",
        native_id="nurse@example.social",
        claims=[Claim("site:nurse.example.org", PROFILE_LINK, CLAIM, "https://nurse.example.org/")],
    )
    blog = AccountRecord(platform="blog", native_id="nurse.example.org", url=f"{base}/nurse/")
    down = AccountRecord(platform="blog", native_id="down.example.org", url=f"{base}/down/")
    others = [AccountRecord(platform="mastodon", native_id=f"u{i}@m.example") for i in range(extra)]
    with write_tx(store) as conn:
        write_batch(conn, Batch(accounts=[nurse, blog, down, *others]), rules, now=T0)


def _persons(store) -> dict[str, int]:
    with store.connect() as conn:
        return {n: int(p) for n, p in conn.execute(select(A.c.native_id, A.c.person_id))}


def _settings(**people: int) -> Settings:
    return Settings.model_validate({"blogs": {"allow_loopback": True}, "people": people})


def test_a_due_pass_links_a_blog_and_the_profile_it_names_and_reports_the_page_that_failed(
    store, site
):
    _seed(store, site)
    assert _persons(store)["nurse@example.social"] != _persons(store)["nurse.example.org"]
    report = run_due_pass(store, _settings(link_every_s=3600), now=lambda: T0, worker="w1")
    assert report is not None
    got = _persons(store)
    assert got["nurse@example.social"] == got["nurse.example.org"]
    assert got["down.example.org"] != got["nurse.example.org"]
    assert "/robots.txt" in _Site.hits  # asked before the pages
    assert report.pages_checked == 2 and report.pages_failed == 1
    assert (report.outcome, report.error_kind) == ("partial", "transient")
    with store.connect() as conn:
        shown = people_pass_status(conn)
    assert shown is not None
    assert shown["outcome"] == "partial" and shown["error_kind"] == "transient"
    assert shown["pages"] == {"ok": 1, "transient": 1}
    (failure,) = shown["page_failures"]
    assert failure["url"] == f"{site}/down/" and "503" in failure["error"]
    assert shown["next_due_at"] == T0 + timedelta(hours=1)


def test_a_pass_is_not_run_again_before_it_is_due_even_by_another_worker(sqlite_store, site):
    _seed(sqlite_store, site)
    settings = _settings(link_every_s=3600)
    assert run_due_pass(sqlite_store, settings, now=lambda: T0, worker="w1") is not None
    hits = len(_Site.hits)
    later = T0 + timedelta(minutes=59)
    assert run_due_pass(sqlite_store, settings, now=lambda: later, worker="w2") is None
    assert len(_Site.hits) == hits  # nothing fetched
    # Due again after link_every_s; the failed page is due again (after six hours), the page
    # read well is cached for a week.
    again = run_due_pass(sqlite_store, settings, now=lambda: T0 + timedelta(hours=7), worker="w2")
    assert again is not None and again.pages_checked == 1 and again.pages_failed == 1


def test_each_pass_reads_a_bounded_number_of_accounts_and_the_next_goes_on_from_there(
    sqlite_store, site
):
    _seed(sqlite_store, site, extra=4)  # 7 accounts
    settings = _settings(link_every_s=60, accounts_per_pass=3, pages_per_pass=0)
    read = []
    for i in range(4):
        r = run_due_pass(sqlite_store, settings, now=lambda i=i: T0 + timedelta(minutes=2 * i))
        assert r is not None and r.pages_checked == 0
        read.append(r.accounts_read)
    assert read == [3, 3, 1, 3]  # to the last account, then from the first again


def test_a_pass_that_fails_as_a_whole_is_recorded_with_its_kind_and_retried_sooner(
    sqlite_store, site
):
    _seed(sqlite_store, site)
    with write_tx(sqlite_store) as conn:  # the page cache's table is gone: a store error
        conn.execute(text("ALTER TABLE profile_page RENAME TO profile_page_gone"))
    r = run_due_pass(sqlite_store, _settings(link_every_s=86_400), now=lambda: T0)
    assert r is not None and (r.outcome, r.error_kind) == ("error", "store")
    with write_tx(sqlite_store) as conn:
        conn.execute(text("ALTER TABLE profile_page_gone RENAME TO profile_page"))
    with sqlite_store.connect() as conn:
        shown = people_pass_status(conn)
    assert shown is not None and shown["outcome"] == "error" and shown["error_kind"] == "store"
    assert shown["next_due_at"] == T0 + timedelta(minutes=10)  # not a day later


def test_switched_off_the_pass_never_runs(sqlite_store, site):
    _seed(sqlite_store, site)
    assert run_due_pass(sqlite_store, _settings(link_every_s=0), now=lambda: T0) is None
    assert _Site.hits == []


def test_people_link_by_hand_counts_as_a_pass_and_the_scheduled_one_is_not_due_again_at_once(
    sqlite_store, site, tmp_path
):
    from typer.testing import CliRunner

    from collectors.people_pass import HAND_WORKER
    from groundswell.cli import app

    _seed(sqlite_store, site)
    config = tmp_path / "groundswell.toml"
    config.write_text(CONFIG)
    url = sqlite_store.url.render_as_string(hide_password=False)
    before = datetime.now(UTC)
    linked = CliRunner().invoke(
        app, ["people", "link", "--config", str(config), "--db", url, "--json"]
    )
    after = datetime.now(UTC)
    assert linked.exit_code == 0, linked.output
    got = _persons(sqlite_store)
    assert got["nurse@example.social"] == got["nurse.example.org"]

    status = CliRunner().invoke(app, ["status", "--config", str(config), "--db", url, "--json"])
    assert status.exit_code == 0, status.output
    shown = json.loads(status.stdout)["people_linking"]
    assert (shown["outcome"], shown["worker"]) == ("partial", HAND_WORKER)
    assert (shown["accounts_read"], shown["pages_checked"], shown["pages_failed"]) == (3, 2, 1)
    assert shown["relink_after"] == -1  # every account was read: the next walk starts over
    due = datetime.fromisoformat(shown["next_due_at"])
    assert before + timedelta(hours=1) <= due <= after + timedelta(hours=1)
    text_status = CliRunner().invoke(app, ["status", "--config", str(config), "--db", url])
    assert "people linking: last pass partial (run by hand: people link)" in text_status.stdout
    assert json.loads(linked.stdout)["outcome"] == "partial"  # the blog that answers 503

    # the scheduled pass of `collect --loop` and `up` is due an hour after the hand run
    hits = len(_Site.hits)
    settings = _settings(link_every_s=3600)
    assert run_due_pass(sqlite_store, settings, now=lambda: after + timedelta(minutes=59)) is None
    assert len(_Site.hits) == hits
    assert run_due_pass(sqlite_store, settings, now=lambda: after + timedelta(hours=1)) is not None


def test_a_scheduled_pass_does_not_start_while_one_run_by_hand_is_running(sqlite_store, site):
    from collectors.people_pass import run_by_hand

    _seed(sqlite_store, site)
    settings = _settings(link_every_s=3600)
    seen: list[object] = []

    def meanwhile(done: int, total: int) -> None:  # the loop looks while the hand run walks
        seen.append(run_due_pass(sqlite_store, settings, now=lambda: T0, worker="loop"))

    run_by_hand(sqlite_store, settings, pages=0, now=lambda: T0, accounts_progress=meanwhile)
    assert seen and seen == [None] * len(seen)
    with sqlite_store.connect() as conn:
        shown = people_pass_status(conn)
    assert shown is not None and shown["outcome"] == "ok"
    assert shown["next_due_at"] == T0 + timedelta(hours=1)


CONFIG = """
[[movements]]
slug = "nhscitizen"
name = "NHS Citizen"
hashtags = ["NHSCitizen"]

[blogs]
allow_loopback = true

[people]
link_every_s = 3600
"""


@pytest.mark.slow
def test_collect_loop_links_the_two_accounts_and_goes_on_past_a_failed_page(
    sqlite_store, site, tmp_path
):
    _seed(sqlite_store, site)
    url = sqlite_store.url.render_as_string(hide_password=False)
    config = tmp_path / "groundswell.toml"
    config.write_text(CONFIG)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GROUNDSWELL_PLUGINS": "numbered=tests.plugins.numbered",
        "GS_TEST_FEED_URL": f"{site}/posts",
    }
    base = [sys.executable, "-m", "groundswell.cli"]
    proc = subprocess.Popen(
        [*base, "collect", "--loop", "--config", str(config), "--db", url],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the loop neither linked nor collected"
            with sqlite_store.connect() as conn:
                outcome = conn.execute(text("SELECT outcome FROM people_pass")).scalar()
                mentions = conn.execute(text("SELECT count(*) FROM mention")).scalar()
            if outcome is not None and mentions == 40:
                break
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert "Traceback" not in err
    got = _persons(sqlite_store)
    assert got["nurse@example.social"] == got["nurse.example.org"]
    status = subprocess.run(
        [*base, "status", "--json", "--config", str(config), "--db", url],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert status.returncode == 0, status.stderr
    linking = json.loads(status.stdout)["people_linking"]
    assert linking["outcome"] == "partial" and linking["error_kind"] == "transient"
    assert linking["page_failures"][0]["url"] == f"{site}/down/"
    text_status = subprocess.run(
        [*base, "status", "--config", str(config), "--db", url],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "people linking: last pass partial" in text_status.stdout
    assert f"{site}/down/" in text_status.stdout and "HTTP 503" in text_status.stdout


UP_CONFIG = """
[[movements]]
slug = "nhscitizen"
name = "NHS Citizen"
hashtags = ["NHSCitizen"]

[blogs]
allow_loopback = true

[[blogs.feeds]]
url = "{site}/feed/"

[people]
link_every_s = 1
"""


def _feed(site: str) -> bytes:
    """One entry of the loop's one source: `up` collects only with a configured source."""
    when = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Assembly notes</title>'
        f"<link>{site}/</link><item><title>Day one</title><link>{site}/day-one</link>"
        f"<guid>{site}/day-one</guid><pubDate>{when}</pubDate>"
        f"<description>Day one of the #NHSCitizen assembly</description></item>"
        f"</channel></rss>"
    ).encode()


@pytest.mark.slow
def test_up_runs_the_linking_pass_and_status_reports_it(sqlite_store, site, tmp_path, monkeypatch):
    from collectors.people_pass import HAND_WORKER
    from tests.test_demo_up import WAIT_S, _free_port, _sigterm, _up

    # Two blogs whose home pages link a Mastodon profile with rel="me", each profile naming
    # its blog back: two people on two platforms, once the pass has read both pages.
    _Site.routes["/carer/"] = (
        200,
        b'<html><body><a rel="me" href="https://example.social/@carer">me</a></body></html>',
    )
    _Site.routes["/feed/"] = (200, _feed(site))
    _Site.routes["/"] = (200, b"<html><body>Assembly notes</body></html>")
    del _Site.routes["/down/"]
    pairs = [
        ("nurse@example.social", "nurse.example.org"),
        ("carer@example.social", "carer.example.org"),
    ]
    accounts = []
    for masto, host in pairs:
        back = Claim(f"site:{host}", PROFILE_LINK, CLAIM, f"https://{host}/")
        accounts.append(AccountRecord(platform="mastodon", native_id=masto, claims=[back]))
        who = host.split(".")[0]
        accounts.append(AccountRecord(platform="blog", native_id=host, url=f"{site}/{who}/"))
    rules = movement(sqlite_store)
    with write_tx(sqlite_store) as conn:
        write_batch(conn, Batch(accounts=accounts), rules, now=T0)
    sqlite_store.dispose()
    (tmp_path / "groundswell.toml").write_text(UP_CONFIG.format(site=site))
    monkeypatch.delenv("DISPLAY", raising=False)

    def linked() -> bool:
        got = _persons(sqlite_store)
        return all(got[m] == got[b] for m, b in pairs)

    with _up(tmp_path, _free_port()) as proc:
        deadline = time.monotonic() + WAIT_S
        while not linked() or "/carer/" not in _Site.hits:
            assert proc.poll() is None, (proc.stdout.read() if proc.stdout else b"").decode()
            assert time.monotonic() < deadline, "up never linked the two people"
            time.sleep(0.3)
        output = _sigterm(proc)
    assert "Traceback" not in output
    assert "/robots.txt" in _Site.hits and "/nurse/" in _Site.hits

    url = sqlite_store.url.render_as_string(hide_password=False)
    status = subprocess.run(
        [sys.executable, "-m", "groundswell.cli", "status", "--json", "--db", url],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)["people_linking"]
    assert shown["outcome"] == "ok" and shown["error"] is None
    assert shown["worker"] and shown["worker"] != HAND_WORKER  # up's collect loop ran it
    assert shown["pages"]["ok"] >= 2 and set(shown["pages"]) == {"ok"}
    assert shown["next_due_at"] is not None
