"""Shared by every test module: nothing but the rule that CI must not skip."""

from __future__ import annotations

import os

import pytest


def skip_or_fail(reason: str) -> None:
    """Skips a test whose requirement is absent, except in CI (CI=true), where it fails:
    CI installs everything the suite needs, so an absence there is a broken setup."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)
