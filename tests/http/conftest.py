"""Fixtures for the HTTP API unit tests (see http_env.py)."""
from __future__ import annotations

import os
import sys

import pytest
import pytest_twisted
from twisted.internet.defer import ensureDeferred

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from http_env import Env  # noqa: E402


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    pytest_twisted.blockon(ensureDeferred(e.add_account()))
    yield e
    e.router.stop()
    pytest_twisted.blockon(e.store.close())


@pytest.fixture
def make_env(tmp_path):
    """Env(tmp_path, **options) for a test, stopped and closed after it."""
    made: list[Env] = []

    def make(**options) -> Env:
        made.append(Env(tmp_path, **options))
        return made[-1]

    yield make
    for e in made:
        e.router.stop()
        pytest_twisted.blockon(e.store.close())
