"""Spread's cascades kept at write time (migration 0027; maintained by
`storage.cascades.grow_cascades` in the write transaction, from the `movement_edge` rows an
INSERT really added).

A cascade is the tree a movement's post started: replies and quotes (thread links, edges that
carry their own post `via`) hang under the post they answer, reposts and boosts are leaves.
It belongs to the range of its root post's time and keeps growing as later replies, quotes and
reposts arrive (docs/dashboard.md, "Cascades"). Reading every link of a range into Python
cost 5.5 s at 30 days on the 10M PostgreSQL store; these tables answer the page with an index
range over the roots of the range, whatever the number of links.

- `cascade_node`: each post of a movement's trees (a link's child or target, a repost's
  target) with its chosen parent link (the post it replies to, else the one it quotes;
  earliest first, then smallest edge id), its tree's root, its depth below the root, and its
  repost and boost leaves. A node is a root when `root_id = node_id`; a root with a parent
  link is where a cycle (hostile data) was cut.
- `cascade_root`: each tree with its root post's time and platform (the movement's match of
  it), size (posts and reposts including the root) and depth (longest root-to-leaf path, in
  edges). Trees of size 1 (a post left alone when a better link moved its only child away)
  keep a row; the page counts sizes >= 2.
- `cascade_day`: how many roots of each (size, depth) each UTC day and root platform holds:
  the histogram of a range's whole days without reading its roots (30 days at 10M are
  hundreds of thousands of roots; the days are a few thousand rows). Counted up and down
  (`roots + delta`) as trees are created, grow, merge and are measured again.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String
from sqlmodel import Field, SQLModel


class CascadeNode(SQLModel, table=True):
    """One post of a movement's cascades: its chosen parent link, root, depth and leaves."""

    __tablename__ = "cascade_node"
    # A tree's members shallowest first: re-rooting a subtree, and the drawn trees' first
    # `max_nodes` nodes without reading the rest of a large tree.
    __table_args__ = (Index("ix_cnode_root", "movement_id", "root_id", "depth"),)
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    node_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    root_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    depth: int = Field(sa_column=Column(Integer, nullable=False))
    # The chosen parent link (None: the post replies to and quotes nothing of the movement).
    parent_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    link_kind: str | None = Field(default=None, sa_column=Column(String(12)))
    link_ts: int | None = Field(default=None, sa_column=Column(BigInteger))
    link_edge: int | None = Field(default=None, sa_column=Column(BigInteger))
    link_platform: str | None = Field(default=None, sa_column=Column(String(20)))
    reposts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    boosts: int = Field(default=0, sa_column=Column(Integer, nullable=False))


class CascadeRoot(SQLModel, table=True):
    """One tree per root post: its time and platform, size and depth."""

    __tablename__ = "cascade_root"
    # The roots of a range (and platform) with everything the page counts: an index-only scan.
    __table_args__ = (
        Index("ix_croot_time", "movement_id", "root_ts", "platform", "size", "depth", "root_id"),
        # One (size, depth) of a range: the largest and the deepest trees, read bucket by
        # bucket from the top of the histogram instead of sorting every root of the range.
        Index("ix_croot_size", "movement_id", "size", "depth", "root_ts", "platform", "root_id"),
    )
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    root_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    root_ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    platform: str = Field(sa_column=Column(String(20), nullable=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    depth: int = Field(sa_column=Column(Integer, nullable=False))


class CascadeDay(SQLModel, table=True):
    """Roots per UTC day of the root post, its platform, and (size, depth)."""

    __tablename__ = "cascade_day"
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    day: int = Field(sa_column=Column(Integer, primary_key=True))
    platform: str = Field(sa_column=Column(String(20), primary_key=True))
    size: int = Field(sa_column=Column(BigInteger, primary_key=True))
    depth: int = Field(sa_column=Column(Integer, primary_key=True))
    roots: int = Field(sa_column=Column(BigInteger, nullable=False))
