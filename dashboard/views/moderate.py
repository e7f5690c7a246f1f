"""Moderator page: hide, approve and pin posts; hide authors, instances and blogs; blocklist.

Separate from the projected wall and behind a sign-in (`dashboard.moderator_auth`): OIDC with
an allow-list of moderator emails when `[auth]` is configured for `st.login`, else a password
from the environment (GROUNDSWELL_MODERATOR_PASSWORD). Every decision is a row in the store, so
several moderators on several laptops share them and a restart forgets nothing; each row names
its moderator.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from dashboard import audit, wall_common
from dashboard.moderator_auth import require_moderator
from dashboard.wall_html import moderator_item_html
from domain.moderation import (
    BLOG_PLATFORMS,
    PLATFORM_LABELS,
    ModerationState,
    WallPost,
    alt_texts,
    blocklist_pattern,
    hidden_reason,
    relative_time,
)
from domain.sanitize import clean_text
from groundswell.wall import EDITABLE, effective_settings, moderation_state, validate_changes
from storage.engine import write_tx
from storage.queries import wall as q

config = wall_common.settings()
engine = wall_common.engine()
st.title("Moderate the wall")

moderator: str = require_moderator(config)
wall_id = config.wall.id


def decide(
    kind: str, target: str, action: str, active: bool = True, verb: str | None = None
) -> None:
    """Store one decision and its audit row in one transaction (`verb` names the button when
    the decision alone does not: "approve" also shows a post again or unpins it)."""
    with write_tx(engine) as conn:
        q.record_decision(
            conn,
            wall=wall_id,
            target_kind=kind,
            target=target,
            action=action,
            active=active,
            moderator=moderator,
        )
        audit.record(
            conn,
            config,
            role="moderator",
            action=audit.moderation_action(kind, action, active, verb),
            target_kind=kind,
            target_id=target,
            detail={"wall": wall_id},
        )


def save(changes: dict[str, Any]) -> None:
    try:
        valid = validate_changes(config.wall, changes)
    except ValueError as exc:
        st.session_state["gs_settings_error"] = str(exc)
        return
    with write_tx(engine) as conn:
        before = effective_settings(conn, config.wall)
        q.save_wall_overrides(conn, wall_id, valid, moderator=moderator)
        audit.record(
            conn,
            config,
            role="moderator",
            action="wall.settings",
            target_kind="wall",
            target_id=wall_id,
            # Which settings changed, not their values (public figures' handles stay out).
            detail={"changed": sorted(k for k in valid if getattr(before, k, None) != valid[k])},
        )
    st.session_state.pop("gs_settings_error", None)


with engine.connect() as conn:
    s = effective_settings(conn, config.wall)

top = st.columns([2, 2, 3])
with top[0]:
    st.caption(f"Signed in as {moderator}")
    # Show what the store says (another moderator may have switched); only this moderator's
    # own click saves, through on_change, so two open pages never undo each other.
    st.session_state["gs-mode"] = s.moderation
    st.radio(
        "Moderation",
        ["post", "pre"],
        format_func=lambda m: {
            "post": "Post-moderation: shown at once",
            "pre": "Pre-moderation: approve first",
        }[m],
        key="gs-mode",
        on_change=lambda: save({"moderation": st.session_state["gs-mode"]}),
    )
with top[1]:
    st.link_button("Open the wall (projector)", "/wall?embed=true")
with top[2]:
    st.caption(
        "Hide, approve and pin act on the wall within one refresh "
        f"(every {s.refresh_s} s). Opted-out accounts are never listed."
    )


def _status(p: WallPost, state: ModerationState, pattern: Any) -> tuple[str, str | None]:
    reason = hidden_reason(p, state, pattern)
    action = state.mentions.get(p.id)
    if reason:
        return f"hidden ({reason})", reason
    if action == "pin":
        return "pinned", None
    if s.moderation == "pre" and action != "approve":
        return "waiting for approval", None
    return "on the wall", None


def post_item(
    p: WallPost, state: ModerationState, pattern: Any, now: datetime, *, prefix: str = ""
) -> None:
    """One post with its buttons. `prefix` keeps widget keys unique when the same post is
    listed twice in one run (the Posts and Hidden tabs)."""
    status, reason = _status(p, state, pattern)
    action = state.mentions.get(p.id)
    pid = str(p.id)

    def button(col: Any, label: str, key: str, *args: Any, primary: bool = False) -> None:
        col.button(
            label,
            key=f"{prefix}{key}-{pid}",
            on_click=decide,
            args=args,
            kwargs={"verb": key},
            type="primary" if primary else "secondary",
        )

    with st.container(border=True):
        st.html(
            moderator_item_html(
                name=p.display_name,
                handle=p.handle,
                platform=PLATFORM_LABELS.get(p.platform, p.platform),
                where=p.instance,
                when=relative_time(p.created_ts, now),
                text=clean_text(((p.title or "") + "\n" + (p.text or "")).strip())[:1500],
                warning=p.spoiler_text,
                status=status,
                alt_texts=alt_texts(p.media),
            )
        )
        b = st.columns(5)
        if action == "hide":
            button(b[0], "Show again", "show", "mention", pid, "approve")
        else:
            button(b[0], "Hide", "hide", "mention", pid, "hide", primary=True)
        if s.moderation == "pre" and action is None and not reason:
            button(b[1], "Approve", "approve", "mention", pid, "approve")
        if action == "pin":
            button(b[2], "Unpin", "unpin", "mention", pid, "approve")
        elif not reason:
            button(b[2], "Pin", "pin", "mention", pid, "pin")
        if p.account_id is not None:
            acc = str(p.account_id)
            if p.account_id in state.hidden_accounts:
                button(b[3], "Unhide author", "unhide-author", "account", acc, "hide", False)
            else:
                button(b[3], "Hide author", "hide-author", "account", acc, "hide")
        if p.instance:
            kind = "blog" if p.platform in BLOG_PLATFORMS else "instance"
            host = p.instance.lower()
            hidden = host in (state.hidden_blogs if kind == "blog" else state.hidden_instances)
            if hidden:
                button(b[4], f"Unhide {kind}", "unhide-host", kind, host, "hide", False)
            else:
                button(b[4], f"Hide {kind}", "hide-host", kind, host, "hide")


tab_posts, tab_hidden, tab_words, tab_settings, tab_log = st.tabs(
    ["Posts", "Hidden", "Blocklist", "Wall settings", "Log"]
)

with tab_posts:
    show = st.radio(
        "Show",
        ["waiting", "all"] if s.moderation == "pre" else ["all", "on the wall"],
        horizontal=True,
        key="gs-show",
    )

    @st.fragment(run_every=5)
    def posts_panel() -> None:
        now = datetime.now(UTC)
        with engine.connect() as conn:
            cur = effective_settings(conn, config.wall)
            state = moderation_state(conn, cur)
            movement_id = q.movement_id_for(conn, cur.movement)
            posts = q.recent_posts(
                conn,
                movement_id=movement_id,
                limit=40,
                exclude_ids=sorted(state.mentions) if show == "waiting" else None,
                discoverable_false_is_opt_out=config.ethics.discoverable_false_is_opt_out,
            )
        pattern = blocklist_pattern(state.words)
        if show in ("on the wall", "waiting"):
            posts = [p for p in posts if hidden_reason(p, state, pattern) is None]
        if not posts:
            st.info("Nothing to moderate yet.")
        for p in posts:
            post_item(p, state, pattern, now)

    posts_panel()

with engine.connect() as conn:
    state = moderation_state(conn, s)
    hidden_posts = q.recent_posts(
        conn,
        only_ids=sorted(state.hidden_mentions),
        limit=100,
        discoverable_false_is_opt_out=config.ethics.discoverable_false_is_opt_out,
    )
    labels = q.account_labels(conn, sorted(state.hidden_accounts))

with tab_hidden:
    st.subheader("Hidden posts")
    if not hidden_posts:
        st.caption("None.")
    now = datetime.now(UTC)
    pattern = blocklist_pattern(state.words)
    for p in hidden_posts:
        post_item(p, state, pattern, now, prefix="hidden-")
    st.subheader("Hidden authors")
    for acc_id in sorted(state.hidden_accounts):
        c1, c2 = st.columns([4, 1])
        c1.text(labels.get(acc_id, f"account {acc_id}"))
        c2.button(
            "Unhide",
            key=f"unhide-acc-{acc_id}",
            on_click=decide,
            args=("account", str(acc_id), "hide", False),
        )
    st.subheader("Hidden instances and blogs")
    for kind, hosts in (("instance", state.hidden_instances), ("blog", state.hidden_blogs)):
        for host in sorted(hosts):
            c1, c2 = st.columns([4, 1])
            c1.text(f"{kind}: {host}")
            c2.button(
                "Unhide",
                key=f"unhide-{kind}-{host}",
                on_click=decide,
                args=(kind, host, "hide", False),
            )
    with st.form("gs-hide-host", clear_on_submit=True):
        kind = st.selectbox("Hide a whole", ["instance", "blog"])
        host = st.text_input("Host name, e.g. spam.example")
        if st.form_submit_button("Hide") and host.strip():
            decide(kind, host.strip().lower(), "hide")
            st.rerun()

with tab_words:
    st.caption(
        "Blocked words hide any post that has them in its text, title, content warning, "
        "image descriptions, or its author's name or handle. Whole words, any case; end a "
        "word with * to match any ending (spam* hides spammer)."
    )
    from_config = set(config.wall.blocklist)
    for word in state.words:
        c1, c2 = st.columns([4, 1])
        c1.text(word + ("  (from the config file)" if word in from_config else ""))
        if word not in from_config:
            c2.button(
                "Remove",
                key=f"unblock-{word}",
                on_click=decide,
                args=("word", word, "block", False),
            )
    with st.form("gs-block-word", clear_on_submit=True):
        word = st.text_input("Block a word or phrase", max_chars=200)
        if st.form_submit_button("Block") and word.strip():
            decide("word", word.strip(), "block")
            st.rerun()

with tab_settings:
    if err := st.session_state.get("gs_settings_error"):
        st.error(f"Not saved: {err}")
    with st.form("gs-settings"):
        title = st.text_input("Title", s.title)
        hashtag = st.text_input("Hashtag to use", s.hashtag or "")
        where = st.text_input("Where to post", s.where_to_post or "")
        display = st.selectbox(
            "Show", ["cards", "pulse", "both"], index=["cards", "pulse", "both"].index(s.mode)
        )
        refresh = st.number_input("Refresh every (s)", 1, 120, s.refresh_s)
        max_cards = st.number_input("Cards on the wall", 1, 200, s.max_cards)
        handles = st.checkbox("Show handles", s.show_handles)
        first = st.checkbox("First names only (except public figures)", s.first_names_only)
        figures = st.text_area(
            "Public figures (handles shown in full), one per line", "\n".join(s.public_figures)
        )
        mask = st.checkbox(
            "Mask phone numbers, emails, NHS numbers, postcodes", s.mask_personal_data
        )
        if st.form_submit_button("Save wall settings"):
            save(
                {
                    "title": title,
                    "hashtag": hashtag.strip() or None,
                    "where_to_post": where.strip() or None,
                    "mode": display,
                    "refresh_s": int(refresh),
                    "max_cards": int(max_cards),
                    "show_handles": handles,
                    "first_names_only": first,
                    "public_figures": [f.strip() for f in figures.splitlines() if f.strip()],
                    "mask_personal_data": mask,
                }
            )
            st.rerun()
    st.caption(f"Editable here: {', '.join(EDITABLE)}. The rest comes from the [wall] config.")

with tab_log, engine.connect() as conn:
    log = q.moderation_log(conn, wall_id)
    if log:
        st.dataframe(log, hide_index=True, width="stretch")
    else:
        st.caption("No decisions yet.")
