"""Test hooks the daemon installs only when asked (an environment variable), never otherwise."""
