"""What an alert looks like on each channel: an email (plain text plus HTML) and webhook
bodies (generic JSON, Slack and Mattermost incoming webhooks). Pure functions of the stored
alert; the text in them was written by our rules from store values, and everything is escaped
for the format it goes into (a quoted post is a stranger's text)."""

from __future__ import annotations

import html
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any


def idempotency_key(delivery: dict[str, Any]) -> str:
    """The same for every attempt of one delivery: receivers that honour it see it once."""
    return f"groundswell-alert-{delivery['alert_id']}-{delivery['channel']}"


def plain_text(delivery: dict[str, Any]) -> str:
    lines = [delivery["title"], "", delivery["body"]]
    if delivery.get("link"):
        lines += ["", f"Open in the dashboard: {delivery['link']}"]
    lines += [
        "",
        f"(rule {delivery['rule']}; acknowledge with `groundswell alerts ack "
        f"{delivery['alert_id']}`)",
    ]
    return "\n".join(lines)


def html_body(delivery: dict[str, Any]) -> str:
    """A self-contained HTML email body (inline styles, no remote content)."""
    if delivery.get("html"):
        return str(delivery["html"])
    body = "".join(
        f"<p style='margin:0 0 8px'>{html.escape(line)}</p>"
        for line in str(delivery["body"]).splitlines()
        if line.strip()
    )
    link = delivery.get("link")
    button = (
        f"<p><a href='{html.escape(link, quote=True)}' style='background:#1f4e79;color:#fff;"
        "padding:8px 14px;text-decoration:none;border-radius:4px'>Open in the dashboard</a></p>"
        if link
        else ""
    )
    return (
        "<!doctype html><html><body style='font-family:system-ui,sans-serif;color:#111'>"
        f"<h2 style='font-size:18px'>{html.escape(str(delivery['title']))}</h2>{body}{button}"
        f"<p style='color:#555;font-size:12px'>Rule {html.escape(str(delivery['rule']))}, "
        f"alert {int(delivery['alert_id'])}</p></body></html>"
    )


def email_message(
    delivery: dict[str, Any], *, sender: str, to: list[str], now: datetime
) -> EmailMessage:
    """The email for one delivery: plain text with an HTML alternative. Its Message-ID is
    derived from the delivery, so a re-send after a crash carries the same id."""
    msg = EmailMessage()
    msg["Subject"] = f"[Groundswell] {delivery['title']}"
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(now)
    domain = sender.rsplit("@", 1)[-1]
    msg["Message-ID"] = f"<{idempotency_key(delivery)}@{domain}>"
    msg["X-Groundswell-Delivery"] = idempotency_key(delivery)
    msg.set_content(delivery.get("text") or plain_text(delivery))
    msg.add_alternative(html_body(delivery), subtype="html")
    return msg


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_body(delivery: dict[str, Any], fmt: str) -> dict[str, Any]:
    """The JSON body for a webhook of format `json`, `slack` or `mattermost`."""
    link = delivery.get("link")
    if fmt == "slack":  # mrkdwn: & < > must be escaped; links as <url|label>
        text = f"*{_slack_escape(delivery['title'])}*\n{_slack_escape(delivery['body'])}"
        if link:
            text += f"\n<{link}|Open in the dashboard>"
        return {"text": text}
    if fmt == "mattermost":  # Markdown
        text = f"**{delivery['title']}**\n{delivery['body']}"
        if link:
            text += f"\n[Open in the dashboard]({link})"
        return {"text": text, "username": "Groundswell"}
    fired = delivery["fired_at"]
    return {
        "id": idempotency_key(delivery),
        "alert_id": delivery["alert_id"],
        "rule": delivery["rule"],
        "kind": delivery["kind"],
        "episode": delivery["episode"],
        "fired_at": fired.isoformat() if isinstance(fired, datetime) else str(fired),
        "title": delivery["title"],
        "text": delivery["body"],
        "link": link,
        "evidence": delivery.get("evidence") or {},
    }


__all__ = ["email_message", "html_body", "idempotency_key", "make_msgid", "webhook_body"]
