"""`recheck` and `hydrate` read Bluesky through the configured service (issue 15, Bluesky 5).

Without credentials they went to the public AppView whatever `[bluesky].base_url` said, so a
self-hosted network (or a local one) could never be re-checked, and `--allow-loopback` was
hidden. The service here answers `getPosts` anonymously, like an AppView, with a post view
recorded by the atproto SDK (MIT, read where it lies).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from domain.records import Batch, MentionRecord
from groundswell.cli import app
from storage.engine import write_tx
from storage.models import Mention
from storage.write import write_batch
from tests.factories import account, movement
from tests.recordings import recorded
from tests.servers.lookup_server import LookupServer

ATPROTO = "MarshalX/atproto"
THREAD = "tests/test_atproto_client/models/test_data/thread_view_post_with_embed_media.json"


def _post(uri: str) -> MentionRecord:
    return MentionRecord(
        platform="bluesky",
        native_id=uri,
        created_at=datetime.now(UTC) - timedelta(days=1),
        author=account(2, platform="bluesky"),
        text="Pledged today #NHSCitizen",
    )


def _config(tmp_path: Path, base_url: str) -> str:
    path = tmp_path / "groundswell.toml"
    path.write_text(
        f"""
[[movements]]
slug = "nhscitizen"
name = "NHS Citizen"
hashtags = ["NHSCitizen"]

[bluesky]
base_url = "{base_url}"
session_file = "{tmp_path / "session.json"}"
""",
        encoding="utf-8",
    )
    return str(path)


def test_recheck_without_credentials_reads_from_the_configured_bluesky_service(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GROUNDSWELL_BSKY_HANDLE", raising=False)
    monkeypatch.delenv("GROUNDSWELL_BSKY_APP_PASSWORD", raising=False)
    view = json.loads(recorded(ATPROTO, THREAD))["thread"]["post"]
    gone = "at://did:plc:kvwvcn5iqfooopmyzvb4qzba/app.bsky.feed.post/3kaheyt6vgone"
    rules = movement(store)
    with write_tx(store) as conn:
        write_batch(conn, Batch(mentions=[_post(view["uri"]), _post(gone)]), rules)
    with LookupServer() as service:
        service.posts[view["uri"]] = view  # the recorded postView, as the AppView sent it
        db = store.url.render_as_string(hide_password=False)
        result = CliRunner().invoke(
            app, ["recheck", "-c", _config(tmp_path, service.url), "--db", db]
        )
        assert result.exit_code == 0, result.output
        assert any("getPosts" in r for r in service.requests)  # asked there, not elsewhere
    m = Mention.__table__
    with store.connect() as conn:
        deleted = {
            r[0] for r in conn.execute(select(m.c.native_id).where(m.c.deleted_at.is_not(None)))
        }
    assert deleted == {gone}
    assert "1 deleted since" in result.output


def test_the_main_networks_entryway_sends_anonymous_reads_to_the_public_appview() -> None:
    from domain.settings.bluesky import PUBLIC_APPVIEW, BlueskySettings

    assert BlueskySettings().read_url == PUBLIC_APPVIEW
    assert BlueskySettings(base_url="https://pds.example.org/").read_url == (
        "https://pds.example.org"
    )
    own = BlueskySettings(appview_url="https://appview.example.org")
    assert own.read_url == "https://appview.example.org"


@pytest.mark.parametrize("command", ["recheck", "hydrate"])
def test_allow_loopback_is_listed_in_help(command: str) -> None:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "--allow-loopback" in result.output
