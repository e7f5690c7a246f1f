"""Replies without the hashtag, from the threads of matched posts (issue 15, Bluesky 3): the
real atproto client against a local AppView's `getPostThread`. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from storage.models import Amplification, Mention, MentionMatch
from tests.bluesky_support import Env, add_posts, bluesky_env, now
from tests.servers.bluesky_server import profile

THREAD = "app.bsky.feed.getPostThread"


@pytest.fixture
def bsky(store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    with bluesky_env(store, tmp_path, monkeypatch) as env:
        yield env


def fan(i: int) -> dict:
    return profile(f"did:plc:fan{i:021d}", f"fan{i}.bsky.social")


def say(bsky: Env, who: int, parent: str, seconds_ago: float, text: str = "Count me in") -> str:
    """A reply that does not repeat the hashtag."""
    when = now() - timedelta(seconds=seconds_ago)
    return bsky.server.add_post(fan(who), text, when, reply_to=parent)


def vias(bsky: Env) -> dict[str, str]:
    m, mm = Mention.__table__, MentionMatch.__table__
    with bsky.engine.connect() as conn:
        return {
            r.native_id: r.via
            for r in conn.execute(
                select(m.c.native_id, mm.c.via).join(mm, mm.c.mention_id == m.c.id)
            )
        }


def reply_edges(bsky: Env) -> set[tuple[str, str]]:
    e, v, t = Amplification.__table__, Mention.__table__.alias(), Mention.__table__.alias()
    with bsky.engine.connect() as conn:
        return {
            (r[0], r[1])
            for r in conn.execute(
                select(v.c.native_id, t.c.native_id)
                .select_from(e)
                .join(v, v.c.id == e.c.via_mention_id)
                .join(t, t.c.id == e.c.target_mention_id)
                .where(e.c.kind == "reply")
            )
        }


def test_replies_without_the_hashtag_are_stored_in_thread_with_reply_edges(bsky: Env) -> None:
    (root,) = add_posts(bsky.server, 1, start=now() - timedelta(minutes=5))
    first = say(bsky, 1, root, 200)
    nested = say(bsky, 2, first, 100)
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert vias(bsky) == {root: "hashtag", first: "thread", nested: "thread"}
    assert reply_edges(bsky) == {(first, root), (nested, first)}
    assert bsky.server.calls[THREAD] == 1


def test_a_thread_is_read_only_when_the_reply_count_grew(bsky: Env) -> None:
    (root, quiet) = add_posts(bsky.server, 2, start=now() - timedelta(minutes=5))
    bsky.run()
    assert bsky.server.calls[THREAD] == 0  # no replies anywhere: no thread read
    say(bsky, 1, root, 60)
    bsky.run()
    assert bsky.server.calls[THREAD] == 1
    bsky.run()  # nothing grew
    assert bsky.server.calls[THREAD] == 1
    late = say(bsky, 2, root, 30)
    bsky.run()
    assert bsky.server.calls[THREAD] == 2
    assert vias(bsky)[late] == "thread"
    assert bsky.mentions() == 4 and quiet in vias(bsky)


def test_branches_cut_at_the_depth_are_asked_for_in_turn_once_each(bsky: Env) -> None:
    bsky.configure(thread_depth=1)
    (root,) = add_posts(bsky.server, 1, start=now() - timedelta(minutes=5))
    chain = [root]
    for i in range(4):  # root <- r1 <- r2 <- r3 <- r4
        chain.append(say(bsky, i, chain[-1], 200 - i))
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert all(vias(bsky)[u] == "thread" for u in chain[1:])
    asked = [c.params["uri"][0] for c in bsky.server.log if c.nsid == THREAD]
    assert asked == chain[:4]  # each cut branch once; r4 has no replies to ask for


def test_a_thread_deeper_than_the_request_budget_ends_and_is_counted(bsky: Env) -> None:
    bsky.configure(thread_depth=1, max_edge_pages=2)
    (root,) = add_posts(bsky.server, 1, start=now() - timedelta(minutes=5))
    parent = root
    for i in range(5):
        parent = say(bsky, i, parent, 200 - i)
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert bsky.server.calls[THREAD] == 2
    assert (bsky.last_run().skip_reasons or {}).get("thread_truncated") == 1


def test_a_thread_gone_since_the_search_is_skipped_and_the_source_stays_ok(bsky: Env) -> None:
    (root,) = add_posts(bsky.server, 1, start=now() - timedelta(minutes=5))
    say(bsky, 1, root, 60)
    bsky.server.thread_overrides[root] = {
        "thread": {"$type": "app.bsky.feed.defs#notFoundPost", "uri": root, "notFound": True}
    }
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert bsky.server.calls[THREAD] == 1
    assert bsky.mentions() == 1


def test_replies_are_not_read_when_fetch_replies_is_off(bsky: Env) -> None:
    bsky.configure(fetch_replies=False)
    (root,) = add_posts(bsky.server, 1, start=now() - timedelta(minutes=5))
    say(bsky, 1, root, 60)
    bsky.run()
    assert bsky.server.calls[THREAD] == 0
    assert bsky.mentions() == 1


# -- recorded real views (the atproto SDK's test data, MIT) -------------------------------------


def test_a_recorded_thread_view_post_is_stored_as_a_reply_in_thread(bsky: Env) -> None:
    """The SDK's recorded `threadViewPost` (a real post with a recordWithMedia embed, real
    `associated`/`viewer` fields), served as the reply under a matched post."""
    from tests.recordings import recorded

    data = json.loads(
        recorded(
            "MarshalX/atproto",
            "tests/test_atproto_client/models/test_data/thread_view_post_with_embed_media.json",
        )
    )
    recorded_view = data["thread"]
    (root,) = add_posts(bsky.server, 1, start=now() - timedelta(minutes=5))
    bsky.server.posts[root].view["replyCount"] = 1
    bsky.server.thread_overrides[root] = {
        "thread": {
            "$type": "app.bsky.feed.defs#threadViewPost",
            "post": bsky.server.posts[root].view,
            "replies": [recorded_view],
        }
    }
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert vias(bsky) == {root: "hashtag", recorded_view["post"]["uri"]: "thread"}
    assert bsky.last_run().skipped == 0


def test_the_recorded_thread_view_of_the_post_itself_has_no_replies_to_store(bsky: Env) -> None:
    """The recorded output as-is for a post whose reply count says 1 (the reply since gone)."""
    from tests.recordings import recorded

    data = json.loads(
        recorded(
            "MarshalX/atproto",
            "tests/test_atproto_client/models/test_data/thread_view_post_with_embed_media.json",
        )
    )
    view = data["thread"]["post"]
    uri = bsky.server.add_post(
        view["author"],
        "Recorded post's place in our search #NHSCitizen",
        now() - timedelta(minutes=5),
        counts=(1, 0, 0, 0),
    )
    bsky.server.thread_overrides[uri] = {"thread": {**data["thread"]}}
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert bsky.server.calls[THREAD] == 1
    assert bsky.mentions() == 1 and bsky.last_run().skipped == 0


def test_a_failed_thread_read_commits_nothing_and_the_next_run_stores_each_reply_once(
    bsky: Env,
) -> None:
    (root,) = add_posts(bsky.server, 1, start=now() - timedelta(minutes=5))
    replies = [say(bsky, i, root, 100 - i) for i in range(3)]
    bsky.server.fail_next(THREAD, "500")
    (failed,) = bsky.run()
    assert failed.outcome == "transient"
    assert bsky.mentions() == 0  # the page and its thread are one transaction
    (ok,) = bsky.run()
    assert ok.outcome == "ok", ok.error
    assert {u: vias(bsky)[u] for u in replies} == dict.fromkeys(replies, "thread")
    assert bsky.mentions() == 4
    bsky.run()
    assert bsky.mentions() == 4


def test_hostile_thread_views_are_skipped_with_a_reason_never_raised() -> None:
    from collectors.bluesky.thread_view import parse_thread
    from tests.servers.bluesky_server import BlueskyServer

    server = BlueskyServer()
    root = server.add_post(fan(0), "Root #NHSCitizen", now() - timedelta(minutes=3))
    good = server.add_post(fan(1), "Yes", now() - timedelta(minutes=2), reply_to=root)
    bad_view = {**server.posts[good].view, "uri": "at://not a uri"}
    for payload in (None, [], {"thread": "x"}, {"thread": {"post": "x"}}):
        out = parse_thread(payload, root)
        assert out.posts == [] and not out.found
    out = parse_thread(
        {
            "thread": {
                "post": server.posts[root].view,
                "replies": [
                    None,
                    5,
                    {"$type": "app.bsky.feed.defs#notFoundPost", "uri": good, "notFound": True},
                    {"post": bad_view, "replies": []},
                    {"post": server.posts[good].view, "replies": "not a list"},
                    {"post": server.posts[root].view, "replies": []},  # a loop back to the root
                ],
            }
        },
        root,
    )
    assert [p.mention.native_id for p in out.posts] == [good]
    assert [s.reason for s in out.skipped] == ["invalid_uri"]
    assert out.deeper == []  # "Yes" has no replies of its own to ask for
