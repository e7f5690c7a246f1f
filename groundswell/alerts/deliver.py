"""Send what the outbox holds: email over SMTP, webhooks through the guarded fetcher.

Order of work per delivery (storage/alerts.py): claim (committed) -> send (no transaction
open) -> mark delivered (committed) only after the server accepted (SMTP `250` to the data,
an HTTP 2xx). A refused or unreachable server puts the delivery back in the queue with a
doubling delay (`retry_base_s`, capped at six hours) until `max_attempts`, then `failed`;
`groundswell status` lists both. A crash between send and mark leaves a claim that expires,
and the delivery is sent again with the same Message-ID / Idempotency-Key (docs/alerts.md).
"""

from __future__ import annotations

import json
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from domain.settings.alerts import AlertsSettings, EmailSettings, WebhookSettings
from domain.settings.checks import secret_from_env
from groundswell.alerts.render import email_message, idempotency_key, webhook_body
from net.fetcher import (
    AddressRefused,
    Fetcher,
    FetchError,
    FetchPolicy,
    PermanentFetchError,
    connect_checked,
)
from storage.alerts import claim_due, mark_delivered, mark_failed_attempt
from storage.engine import write_tx

MAX_RETRY_S = 6 * 3600


class DeliveryError(Exception):
    """A delivery the server did not accept; `permanent` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class GuardedSMTP(smtplib.SMTP):
    """smtplib's client on a socket the address guard checked (net.fetcher): the SMTP
    host resolves once and must be public, or 127.0.0.1 when `allow_loopback` is set."""

    def __init__(self, policy: FetchPolicy, **kwargs: Any) -> None:
        self._gs_policy = policy
        super().__init__(**kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return connect_checked(host, port, self._gs_policy, timeout=timeout)


class GuardedSMTPSSL(smtplib.SMTP_SSL):
    """Implicit TLS (port 465) on a guarded socket; the certificate is checked against the
    configured host name."""

    def __init__(self, policy: FetchPolicy, **kwargs: Any) -> None:
        self._gs_policy = policy
        super().__init__(**kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = connect_checked(host, port, self._gs_policy, timeout=timeout)
        return self.context.wrap_socket(sock, server_hostname=self._host)


def policy(cfg: AlertsSettings) -> FetchPolicy:
    return FetchPolicy(allow_loopback=cfg.allow_loopback, timeout_s=15.0, max_bytes=200_000)


def send_email(email: EmailSettings, cfg: AlertsSettings, delivery: dict[str, Any]) -> None:
    """One message, accepted by the server or a `DeliveryError`."""
    msg = email_message(delivery, sender=email.sender, to=email.to, now=datetime.now(UTC))
    context = ssl.create_default_context()
    try:
        if email.security == "ssl":
            client: smtplib.SMTP = GuardedSMTPSSL(
                policy(cfg),
                host=email.host,
                port=email.port,
                timeout=email.timeout_s,
                context=context,
            )
        else:
            client = GuardedSMTP(
                policy(cfg), host=email.host, port=email.port, timeout=email.timeout_s
            )
        with client:
            if email.security == "starttls":
                client.starttls(context=context)
            user = secret_from_env(email.username_env, what="SMTP user")
            password = secret_from_env(email.password_env, what="SMTP password")
            if email.username_env and (user is None or password is None):
                raise DeliveryError(
                    f"alerts.email: ${email.username_env} / ${email.password_env} are not set; "
                    "set them in the environment of this process"
                )
            if user is not None and password is not None:
                client.login(user, password)
            refused = client.send_message(msg)
            if refused:
                raise DeliveryError(f"recipients refused: {sorted(refused)}", permanent=True)
    except AddressRefused as exc:
        raise DeliveryError(
            f"alerts.email.host: {exc} (set [alerts] allow_loopback for a relay on 127.0.0.1)",
            permanent=True,
        ) from None
    except (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused) as exc:
        raise DeliveryError(f"SMTP refused: {exc}", permanent=True) from None
    except smtplib.SMTPResponseException as exc:
        permanent = 500 <= exc.smtp_code < 600
        raise DeliveryError(
            f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=permanent
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(
            f"SMTP server {email.host}:{email.port} unreachable: {type(exc).__name__}: {exc}"
        ) from None


def post_webhook(hook: WebhookSettings, fetcher: Fetcher, delivery: dict[str, Any]) -> None:
    body = json.dumps(webhook_body(delivery, hook.format)).encode()
    try:
        fetcher.request(
            "POST",
            hook.url,
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": idempotency_key(delivery),
            },
            content=body,
            max_bytes=100_000,
        )
    except PermanentFetchError as exc:
        raise DeliveryError(f"webhook {hook.name}: {exc}", permanent=True) from None
    except FetchError as exc:
        raise DeliveryError(f"webhook {hook.name}: {exc}") from None


@dataclass(slots=True)
class DeliveryReport:
    delivered: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def retry_delay(cfg: AlertsSettings, attempts: int) -> float:
    """Doubling back-off: retry_base_s, 2x, 4x ... capped at six hours."""
    return float(min(cfg.retry_base_s * 2 ** max(0, attempts - 1), MAX_RETRY_S))


def send_one(cfg: AlertsSettings, fetcher: Fetcher, delivery: dict[str, Any]) -> None:
    """Send one claimed delivery to its channel (raises `DeliveryError`)."""
    channel = delivery["channel"]
    if channel == "email":
        if cfg.email is None:
            raise DeliveryError(
                "channel 'email' is no longer configured ([alerts.email])", permanent=True
            )
        send_email(cfg.email, cfg, delivery)
        return
    hook = next((w for w in cfg.webhooks if w.name == channel), None)
    if hook is None:
        raise DeliveryError(f"webhook {channel!r} is no longer configured", permanent=True)
    post_webhook(hook, fetcher, delivery)


def deliver_due(
    engine: Engine, cfg: AlertsSettings, *, now: datetime | None = None
) -> DeliveryReport:
    """Send every due delivery once; returns what happened to each."""
    report = DeliveryReport()
    now = now or datetime.now(UTC)
    with write_tx(engine) as conn:
        claimed = claim_due(conn, now=now)
    if not claimed:
        return report
    with Fetcher(policy(cfg)) as fetcher:
        for d in claimed:
            try:
                send_one(cfg, fetcher, d)
            except DeliveryError as exc:
                last = exc.permanent or d["attempts"] >= cfg.max_attempts
                with write_tx(engine) as conn:
                    mark_failed_attempt(
                        conn,
                        d["id"],
                        str(exc),
                        now=now,
                        retry_in_s=None if last else retry_delay(cfg, d["attempts"]),
                    )
                (report.failed if last else report.retrying).append(d["id"])
                continue
            with write_tx(engine) as conn:
                mark_delivered(conn, d["id"], now=now)
            report.delivered.append(d["id"])
    return report
