"""Delivery transport: channel kinds, the message model, renderers per dialect, apprise sending."""
