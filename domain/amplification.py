"""How amplification edges are grouped for people: the kinds of edge (DESIGN.md section 3) that
count as reposts (boosts are Mastodon's), quotes, replies and links (pingbacks and webmentions
are links from blogs). Pure; the account rankings (`storage.queries.amplifiers`) and the person
rankings (`storage.queries.persons`) group by the same table."""

from __future__ import annotations

KIND_GROUPS = {
    "reposts": ("repost", "boost"),
    "quotes": ("quote",),
    "replies": ("reply",),
    "links": ("link", "pingback", "webmention"),
}
GROUP_OF = {kind: name for name, kinds in KIND_GROUPS.items() for kind in kinds}
