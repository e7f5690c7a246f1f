"""Alerts and digests (issue 19; docs/alerts.md): rules over the rollups, an outbox of
deliveries committed with each alert, email over SMTP and webhooks through the guarded fetcher."""
