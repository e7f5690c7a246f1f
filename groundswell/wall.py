"""The wall as data: effective settings (config + moderators' overrides), cards and pulse.

Pages call these; they hold no Streamlit code so the wall, the moderator page, the benchmark
and the tests all see exactly the same rules.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import Connection

from domain.moderation import Card, ModerationState, Privacy, present, select_for_wall
from domain.settings.config import WallSettings
from storage.queries import wall as q

log = logging.getLogger(__name__)

# Keys moderators may change at run time from the moderator page (stored in `wall_setting`).
EDITABLE = (
    "title",
    "hashtag",
    "where_to_post",
    "moderation",
    "mode",
    "refresh_s",
    "show_handles",
    "first_names_only",
    "public_figures",
    "mask_personal_data",
    "max_cards",
)


def effective_settings(conn: Connection, base: WallSettings) -> WallSettings:
    """The config's `[wall]` with the moderators' stored overrides applied.

    An override that no longer validates (e.g. written by an older version) is ignored and
    logged rather than taking the wall down in front of a room.
    """
    overrides = {k: v for k, v in q.load_wall_overrides(conn, base.id).items() if k in EDITABLE}
    if not overrides:
        return base
    try:
        return WallSettings.model_validate({**base.model_dump(), **overrides})
    except ValidationError as exc:
        log.error("wall %s: ignoring invalid stored settings: %s", base.id, exc)
        return base


def validate_changes(base: WallSettings, changes: dict[str, Any]) -> dict[str, Any]:
    """Only editable keys, validated together with the rest; raises ValueError with the fix."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable on the moderator page: {sorted(unknown)}")
    try:
        merged = WallSettings.model_validate({**base.model_dump(), **changes})
    except ValidationError as exc:
        raise ValueError("; ".join(e["msg"] for e in exc.errors())) from None
    return {k: getattr(merged, k) for k in changes}


def moderation_state(conn: Connection, settings: WallSettings) -> ModerationState:
    return ModerationState.from_decisions(
        q.load_decisions(conn, settings.id), extra_words=settings.blocklist
    )


def privacy(settings: WallSettings) -> Privacy:
    return Privacy(
        show_handles=settings.show_handles,
        first_names_only=settings.first_names_only,
        public_figures=tuple(settings.public_figures),
        mask_personal_data=settings.mask_personal_data,
        text_max_chars=settings.text_max_chars,
    )


def wall_cards(
    conn: Connection,
    settings: WallSettings,
    *,
    now: datetime,
    discoverable_false_is_opt_out: bool = True,
    state: ModerationState | None = None,
) -> list[Card]:
    """The cards on the wall right now: moderated, ordered, privacy applied."""
    state = state or moderation_state(conn, settings)
    movement_id = q.movement_id_for(conn, settings.movement)
    posts = q.candidate_posts(
        conn,
        state,
        moderation=settings.moderation,
        movement_id=movement_id,
        limit=settings.max_cards,
        discoverable_false_is_opt_out=discoverable_false_is_opt_out,
    )
    shown = select_for_wall(posts, state, settings.moderation, settings.max_cards)
    pv = privacy(settings)
    pinned = state.pinned
    return [present(p, pv, now, pinned=p.id in pinned) for p in shown]


def hashtag_page(settings: WallSettings, mastodon_base_urls: list[str]) -> str | None:
    """Where the wall's QR code points: `qr_url` when set, else the hashtag's page on the
    first configured Mastodon instance (the room's own server), else on Bluesky; None
    without a hashtag."""
    if settings.qr_url:
        return settings.qr_url
    tag = (settings.hashtag or "").strip().lstrip("#")
    if not tag:
        return None
    path = quote(tag, safe="")
    if mastodon_base_urls:
        return f"{mastodon_base_urls[0].rstrip('/')}/tags/{path}"
    return f"https://bsky.app/hashtag/{path}"


def day_start_ts(now: datetime, timezone: str) -> int:
    """Midnight of `now`'s day in the wall's time zone, as epoch seconds ("today")."""
    local = now.astimezone(ZoneInfo(timezone))
    return int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())


@dataclass(slots=True)
class PulseView:
    figures: q.Pulse
    volume: list[tuple[int, str, int]]
    amplifiers: list[tuple[str, str | None, str, int]]  # name, handle, platform, count


def pulse_view(
    conn: Connection,
    settings: WallSettings,
    *,
    now: datetime,
    discoverable_false_is_opt_out: bool = True,
    state: ModerationState | None = None,
    figures_only: bool = False,
) -> PulseView:
    """The pulse; `figures_only` skips the chart and the amplifiers (the cards-only header)."""
    from domain.moderation import WallPost

    state = state or moderation_state(conn, settings)
    movement_id = q.movement_id_for(conn, settings.movement)
    now_ts = int(now.timestamp())
    start = day_start_ts(now, settings.timezone)
    figures = q.pulse(conn, movement_id=movement_id, now_ts=now_ts, day_start_ts=start)
    if figures_only:
        return PulseView(figures=figures, volume=[], amplifiers=[])
    volume = q.volume_by_minute(conn, movement_id=movement_id, now_ts=now_ts)
    pv = privacy(settings)
    amps = []
    for a in q.top_amplifiers(
        conn,
        movement_id=movement_id,
        since_ts=start,
        hidden_accounts=sorted(state.hidden_accounts),
        discoverable_false_is_opt_out=discoverable_false_is_opt_out,
    ):
        # Same privacy as the cards: present a stand-in post for the account.
        card = present(
            WallPost(
                id=a.account_id,
                platform=a.platform,
                created_ts=now_ts,
                account_id=a.account_id,
                account_native_id=a.native_id,
                handle=a.handle,
                display_name=a.display_name,
            ),
            pv,
            now,
        )
        amps.append((card.name, card.handle, card.platform, a.amplifications))
    return PulseView(figures=figures, volume=volume, amplifiers=amps)
