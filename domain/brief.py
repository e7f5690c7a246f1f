"""Error messages cut to one readable line without breaking a word, host or URL.

Library errors run long ("HTTPSConnectionPool(host='mastodon.social', port=443): Max retries
exceeded with url: /api/v1/timelines/tag/...") and were cut at a fixed character count, which
left "host='mastodon.socia" in `status`: the one word a person needs to act on. Cut at a word
boundary instead and say that something was left out.
"""

from __future__ import annotations

LIMIT = 200


def brief(text: str, limit: int = LIMIT) -> str:
    """The first line of `text`, at most about `limit` characters, cut between words."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    if len(line) <= limit:
        return line
    cut = line[:limit]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    else:  # one giant token: keep it whole rather than cut inside it
        end = line.find(" ", limit)
        cut = line if end == -1 else line[:end]
    return cut.rstrip(" ,;:(") + " …"


def brief_error(exc: BaseException, limit: int = LIMIT) -> str:
    """`brief(str(exc))`, or the exception's type name when it has no message."""
    return brief(str(exc), limit) or type(exc).__name__
