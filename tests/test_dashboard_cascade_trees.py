"""Cascade trees that can be read: a post's reposts are one counted fan, depth ticks are whole
steps, and the tree says who started it and with which words."""

from __future__ import annotations

from dashboard.figures.spread import cascade_figure, tree_figure, tree_title
from storage.queries import spread
from tests.factories import account, mention
from tests.test_dashboard_spread_queries import _at, _link, _scope, _write


def test_two_hundred_reposts_of_a_post_are_one_counted_fan_not_two_hundred_leaves(store):
    star = mention(1, author=account(1), created_at=_at(0.5), text="Pledge with us #NHSCitizen")
    reply = mention(2, author=account(2), created_at=_at(0.6))
    edges = [
        _link("reply", reply.author, star, _at(1), via=reply),
        *(_link("boost", account(100 + i), star, _at(2)) for i in range(212)),
    ]
    _write(store, star, reply, edges=edges)
    with store.connect() as conn:
        (tree, *_) = spread.cascades(conn, _scope(store, 0, 5))["trees"]
    fans = [n for n in tree["nodes"] if n["kind"] == "boost"]
    assert [(n["parent"], n["count"]) for n in fans] == [(star.id, 212)]
    assert {n["id"] for n in tree["nodes"] if n["kind"] == "reply"} == {reply.id}  # not crowded out
    assert tree["started_by"]["author"] == "User 1"
    assert tree["started_by"]["text"].startswith("Pledge with us")


def _node(id_, parent, depth, kind, count=1) -> dict:
    return {"id": id_, "parent": parent, "depth": depth, "kind": kind, "platform": "mastodon",
            "count": count}  # fmt: skip


def _tree() -> dict:
    return {
        "root": 1,
        "size": 214,
        "depth": 2,
        "started_by": {"author": "<b>Ada</b>", "text": "We met in Leeds <script>x</script> today"},
        "nodes": [
            _node(1, None, 0, "post"),
            _node(2, 1, 1, "reply"),
            _node(3, 2, 2, "reply"),
            _node((1, "boost"), 1, 1, "boost", 212),
        ],
    }


def test_a_fan_is_labelled_with_its_count_and_depth_ticks_are_whole_steps():
    fig = tree_figure(_tree(), "t")
    (fan,) = [t for t in fig.data if t.name == "boost"]
    assert list(fan.text) == ["212 boosts"]
    assert fig.layout.xaxis.dtick == 1 and fig.layout.xaxis.tick0 == 0
    assert fig.layout.yaxis.title.text in (None, "")  # no "Branch"


def test_the_trees_title_names_who_started_it_and_its_opening_words_escaped():
    title = tree_title(_tree(), 1)
    assert title.startswith("#1: 214 posts and reposts, 2 steps deep")
    assert "&lt;b&gt;Ada&lt;/b&gt;" in title and "<b>Ada" not in title
    assert "We met in Leeds &lt;script&gt;" in title


def test_a_tree_started_by_a_withheld_post_names_neither_its_author_nor_its_words(store):
    quiet = account(1, noindex=True, display_name="Quiet Person")  # opted out of indexing
    star = mention(1, author=quiet, created_at=_at(0.5), text="My private words #NHSCitizen")
    edges = [_link("boost", account(100 + i), star, _at(2)) for i in range(3)]
    _write(store, star, edges=edges)
    with store.connect() as conn:
        (tree, *_) = spread.cascades(conn, _scope(store, 0, 5))["trees"]
    assert tree["size"] == 4  # still counted
    assert tree["started_by"] == {"withheld": True}
    title = tree_title(tree, 1)
    assert "Quiet" not in title and "private" not in title
    assert "a post not shown here" in title


def test_a_tree_of_many_replies_is_an_icicle_whose_boxes_count_every_post_and_repost(store):
    star = mention(1, author=account(1), created_at=_at(0.5), text="Pledge with us #NHSCitizen")
    replies = [mention(10 + i, author=account(10 + i), created_at=_at(0.6)) for i in range(60)]
    edges = [_link("reply", r.author, star, _at(1), via=r) for r in replies]
    edges += [_link("boost", account(500 + i), star, _at(2)) for i in range(212)]
    edges += [_link("boost", account(900 + i), replies[0], _at(2)) for i in range(5)]
    _write(store, star, *replies, edges=edges)
    with store.connect() as conn:
        (tree, *_) = spread.cascades(conn, _scope(store, 0, 5))["trees"]
    assert tree["size"] == 1 + 60 + 212 + 5
    fig = cascade_figure(tree, tree_title(tree, 1))
    (ice,) = fig.data
    assert ice.type == "icicle"
    by_label = dict(zip(ice.labels, ice.values, strict=True))
    assert by_label["original post"] == tree["size"]  # the root's box is the whole tree
    assert by_label["212 boosts"] == 212 and by_label["5 boosts"] == 5
    # The boosted reply keeps its box (itself and its 5 boosts); the 59 unanswered replies
    # are one counted box, not 59 slivers.
    assert by_label["reply"] == 6
    assert by_label["59 replies"] == 59
    assert "started by User 1" in fig.layout.title.text


def test_a_small_tree_keeps_the_node_link_drawing():
    assert cascade_figure(_tree(), "t").data[0].type == "scatter"
