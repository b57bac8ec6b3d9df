"""Registers the release gate's pytest plugin for this repository."""

pytest_plugins = ["harness.pytest_plugin"]
