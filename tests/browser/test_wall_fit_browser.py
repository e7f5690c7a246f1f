"""The projected wall fits the screen: every mode at 720p, 1080p and 4K in real Chromium.

Nothing may lie outside the viewport, nothing may scroll, the hashtag, where to post and the
QR code stay on screen, and every card comes up within one rotation of the pages.
Screenshots: tests/browser/artifacts/wall-fit-<mode>-<width>.png (look at them).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from domain.records import AccountRecord, EdgeRecord
from tests import wall_feeder

# one xdist worker runs the module, so its one dashboard (`wall`) is started once
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wall_fit")]

SIZES = [(1280, 720), (1920, 1080), (3840, 2160)]
LONG_POST = (
    "Spent the afternoon at the listening event in the community centre. Three things stayed "
    "with me: the carers who had taken unpaid leave to be there, the interpreters who made the "
    "whole room possible, and the young man who said nobody had ever asked him before. If the "
    "trust boards mean what they say about co-production, the next step is to pay people for "
    "their time and to come back with what changed. #NHSCitizen"
)
PAGE_S = 3
# An amplifier whose name and handle are longer than the pulse's column at any size.
LONG_FAN = AccountRecord(
    platform="mastodon",
    native_id="community.engagement.officer@a-very-long-instance-name.nhs-voices.example",
    handle="community.engagement.officer@a-very-long-instance-name.nhs-voices.example",
    display_name="The Community Engagement Officer of the North East Integrated Care Board",
    instance="a-very-long-instance-name.nhs-voices.example",
)

# Every element of the stage inside the viewport; the document not scrollable either way;
# every part of a card inside its card.
FIT_PROBE = """() => {
  const W = window.innerWidth, H = window.innerHeight, out = [];
  const box = (el) => el.getBoundingClientRect();
  for (const el of document.querySelectorAll('.gs-stage, .gs-stage *')) {
    const r = box(el);
    if (r.width === 0 && r.height === 0) continue;
    if (r.left < -1 || r.top < -1 || r.right > W + 1 || r.bottom > H + 1)
      out.push(`${el.className || el.tagName} at ${Math.round(r.left)},${Math.round(r.top)}-`
               + `${Math.round(r.right)},${Math.round(r.bottom)} outside ${W}x${H}`);
  }
  for (const card of document.querySelectorAll('.gs-card')) {
    const c = box(card);
    for (const part of card.children) {
      const r = box(part);
      if (r.height === 0) continue;
      if (r.top < c.top - 1 || r.bottom > c.bottom + 1 || r.left < c.left - 1
          || r.right > c.right + 1)
        out.push(`${part.className} spills out of card ${card.dataset.mentionId}`);
    }
  }
  const d = document.documentElement, s = document.scrollingElement;
  return {outside: out,
          scrollX: Math.max(d.scrollWidth, s.scrollWidth) - W,
          scrollY: Math.max(d.scrollHeight, s.scrollHeight) - H,
          stage: !!document.querySelector('.gs-stage'),
          qr: document.querySelectorAll('.gs-foot img.gs-qr').length,
          tag: (document.querySelector('.gs-foot .gs-tag') || {}).innerText,
          where: (document.querySelector('.gs-foot .gs-where') || {}).innerText,
          meta: parseFloat(getComputedStyle(document.querySelector('.gs-meta, .gs-lbl')).fontSize)};
}"""


def _config(folder) -> str:
    path = folder / "groundswell.toml"
    path.write_text(
        "[wall]\n"
        'title = "NHS Citizen Assembly: the room and the conversation"\n'
        'hashtag = "NHSCitizen"\n'
        'where_to_post = "Post on Mastodon or Bluesky with #NHSCitizen"\n'
        f"page_s = {PAGE_S}\n"
        "refresh_s = 60\n"
    )
    return str(path)


@pytest.fixture(scope="module")
def wall(module_sqlite_store, module_streamlit_app, tmp_path_factory):
    """One seeded store and one dashboard for the module: these tests only look at the wall,
    each in a browser context (a Streamlit session) of its own."""
    store = module_sqlite_store
    wall_feeder.ensure_movement(store)
    now = datetime.now(UTC)
    # Within the wall's day (UTC): "Top amplifiers today" counts today's boosts only, so a run
    # in the two hours after midnight put the whole fan on yesterday and found no amplifiers.
    start = max(now - timedelta(hours=2), now.replace(hour=0, minute=0, second=0, microsecond=0))
    posts = wall_feeder.conversation(start)
    # The newest post (first on the wall) is longer than any card holds.
    posts.append(wall_feeder.post(len(posts), LONG_POST, start + timedelta(seconds=len(posts))))
    # The long-named amplifier boosts every ordinary post, as many as the top one does.
    fan = [
        EdgeRecord(
            "repost" if p.platform == "bluesky" else "boost",
            p.platform,
            LONG_FAN,
            (p.platform, p.native_id),
            p.created_at,
        )
        for p in posts[: len(wall_feeder.ORDINARY)]
    ]
    wall_feeder.write(store, *posts, edges=wall_feeder.boosts(posts) + fan)
    config = _config(tmp_path_factory.mktemp("wall"))
    base = module_streamlit_app(str(store.url), env={"GROUNDSWELL_CONFIG": config})
    return base, posts


def _open(browser, base: str, mode: str, size: tuple[int, int], embed: bool = True):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    query = f"embed=true&mode={mode}" if embed else f"mode={mode}"
    page.goto(f"{base}/wall?{query}", wait_until="domcontentloaded")
    page.wait_for_selector(".gs-stage .gs-foot", timeout=60_000)
    if mode != "pulse":
        page.wait_for_selector(".gs-card", timeout=30_000)
    page.wait_for_timeout(800)  # images and fonts settle
    return context, page


@pytest.mark.parametrize("mode", ["cards", "pulse", "both"])
def test_every_mode_fits_every_projector_size_with_nothing_outside_or_scrolling(
    wall, browser, artifacts, mode
):
    base, _ = wall
    for size in SIZES:
        context, page = _open(browser, base, mode, size)
        try:
            page.screenshot(path=str(artifacts / f"wall-fit-{mode}-{size[0]}.png"))
            probe = page.evaluate(FIT_PROBE)
        finally:
            context.close()
        assert probe["stage"]
        assert probe["outside"] == [], f"{mode} at {size}: {probe['outside'][:5]}"
        assert probe["scrollX"] <= 0 and probe["scrollY"] <= 0, f"{mode} at {size} scrolls"
        assert probe["qr"] == 1 and probe["tag"] == "#NHSCitizen", f"{mode} at {size}"
        assert "Post on Mastodon or Bluesky" in probe["where"]


def test_type_grows_with_the_screen(wall, browser):
    base, _ = wall
    sizes = []
    for size in (SIZES[0], SIZES[2]):
        context, page = _open(browser, base, "cards", size)
        sizes.append(page.evaluate(FIT_PROBE)["meta"])
        context.close()
    assert sizes[1] == pytest.approx(sizes[0] * 3, rel=0.05)  # 2160 / 720


@pytest.mark.parametrize("mode", ["cards", "both"])
def test_every_card_comes_up_within_one_rotation_of_the_pages(wall, browser, mode):
    base, posts = wall
    context, page = _open(browser, base, mode, SIZES[1])
    try:
        pages = int(page.locator(".gs-pages > div").first.inner_text().rsplit(" ", 1)[1])
        assert pages > 1
        seen: set[str] = set()
        end = time.monotonic() + (pages + 1) * PAGE_S
        while time.monotonic() < end:
            seen.update(
                page.evaluate(
                    "() => [...document.querySelectorAll('.gs-card')].map(c => c.dataset.mentionId)"
                )
            )
            page.wait_for_timeout(250)
    finally:
        context.close()
    shown_ids = {str(p.id) for p in posts}
    assert seen == shown_ids


def test_a_new_post_is_shown_within_seconds_even_while_a_later_page_is_up(
    sqlite_store, streamlit_app, browser, tmp_path
):
    wall_feeder.ensure_movement(sqlite_store)
    posts = wall_feeder.conversation(datetime.now(UTC) - timedelta(hours=2))
    wall_feeder.write(sqlite_store, *posts)
    config = tmp_path / "groundswell.toml"
    config.write_text('[wall]\nhashtag = "NHSCitizen"\npage_s = 8\nrefresh_s = 60\n')
    base = streamlit_app(str(sqlite_store.url), env={"GROUNDSWELL_CONFIG": str(config)})
    context, page = _open(browser, base, "cards", SIZES[1])
    try:
        page.get_by_text("Page 2 of 3").wait_for(timeout=30_000)
        fresh = wall_feeder.post(99, "Just arrived #NHSCitizen", datetime.now(UTC))
        wall_feeder.write(sqlite_store, fresh)
        written = time.monotonic()
        # The rotation alone would bring page 1 back 16 s after page 2 came up.
        page.wait_for_selector(f'[data-mention-id="{fresh.id}"]', timeout=8_000)
        assert time.monotonic() - written < 8
    finally:
        context.close()


# Each card's text shows whole lines: its box is a whole number of lines tall and lies inside
# its room, so no line is cut through at a card's foot; `clamped` counts texts longer than
# their room (the case that matters).
LINES_PROBE = """() => {
  const out = []; let clamped = 0, texts = 0;
  for (const text of document.querySelectorAll('.gs-card .gs-text')) {
    texts++;
    const r = text.getBoundingClientRect(), room = text.parentElement.getBoundingClientRect();
    const lh = parseFloat(getComputedStyle(text).lineHeight);
    const lines = r.height / lh;
    if (text.scrollHeight > text.clientHeight + 1) clamped++;
    if (Math.abs(lines - Math.round(lines)) > 0.05 || r.bottom > room.bottom + 1)
      out.push(`${text.closest('.gs-card').dataset.mentionId}: ${lines.toFixed(2)} lines`
               + ` (${Math.round(r.bottom)} in a room ending at ${Math.round(room.bottom)})`);
  }
  return {cut: out, clamped, texts};
}"""


@pytest.mark.parametrize("embed", [True, False], ids=["projected", "beside-the-menu"])
@pytest.mark.parametrize("mode", ["cards", "both"])
def test_a_long_post_shows_whole_lines_and_never_half_a_line(wall, browser, mode, embed):
    """Projected (`embed=true`) and in the dashboard beside its menu, where the cards are
    narrower and a long post wraps to more lines than its card holds."""
    base, _ = wall
    for size in SIZES:
        context, page = _open(browser, base, mode, size, embed)
        try:
            probe = page.evaluate(LINES_PROBE)
        finally:
            context.close()
        assert probe["texts"] > 0
        assert probe["cut"] == [], f"{mode} at {size}: {probe['cut'][:4]}"
        assert probe["clamped"] > 0, f"{mode} at {size}: no post long enough to test"


# Each amplifier row: every part (name, handle, count) inside its row, and the count whole.
AMPS_PROBE = """() => {
  const out = [], counts = [];
  for (const li of document.querySelectorAll('.gs-amps li')) {
    const row = li.getBoundingClientRect();
    for (const part of li.querySelectorAll('*')) {
      const r = part.getBoundingClientRect();
      if (r.left < row.left - 1 || r.right > row.right + 1)
        out.push(`${part.className} ${Math.round(r.left)}-${Math.round(r.right)} outside its`
                 + ` row ${Math.round(row.left)}-${Math.round(row.right)}`);
    }
    const n = li.querySelector('.gs-n');
    counts.push(n && n.scrollWidth <= n.clientWidth + 1 ? n.innerText : null);
  }
  return {out, counts};
}"""


@pytest.mark.parametrize("embed", [True, False], ids=["projected", "beside-the-menu"])
@pytest.mark.parametrize("mode", ["pulse", "both"])
def test_an_amplifier_with_a_long_name_keeps_its_count_in_sight(
    wall, browser, artifacts, mode, embed
):
    """A name and handle longer than the column are cut short with an ellipsis in their own
    boxes; the count stays whole, and nothing reaches past the screen's edge."""
    base, _ = wall
    for size in SIZES:
        context, page = _open(browser, base, mode, size, embed)
        try:
            page.wait_for_selector(".gs-amps li", timeout=30_000)
            amps = page.evaluate(AMPS_PROBE)
            fit = page.evaluate(FIT_PROBE)
            if size == SIZES[0]:
                name = f"wall-amps-{mode}-{'projected' if embed else 'menu'}-{size[0]}.png"
                page.screenshot(path=str(artifacts / name))
        finally:
            context.close()
        assert amps["out"] == [], f"{mode} at {size}: {amps['out'][:3]}"
        assert amps["counts"] and all(c and c.startswith("· ") for c in amps["counts"]), amps
        assert fit["outside"] == [], f"{mode} at {size}: {fit['outside'][:3]}"
