"""Notification delivery: rendering, the durable outbox, apprise."""
