"""Fixtures for tests that talk to the stand-in Hugging Face Hub (fake_hub.py) and run build/salut."""

import pytest

from fake_hub import FakeHub
from salut_util import SALUT_BIN, clean_env


@pytest.fixture
def fake_hub():
    """A running FakeHub (hub + CDN on 127.0.0.1), stopped after the test."""
    with FakeHub() as hub:
        yield hub


@pytest.fixture
def salut_bin():
    if not SALUT_BIN.is_file():
        pytest.fail(f"{SALUT_BIN} is missing: build it (ninja -C build) or set SALUT_BIN")
    return SALUT_BIN


@pytest.fixture
def env(tmp_path, fake_hub, salut_bin):
    """salut's environment for one test: its own cache/data dir/home, HF_ENDPOINT at the fake Hub."""
    return clean_env(tmp_path, HF_ENDPOINT=fake_hub.url)


@pytest.fixture
def cache(env):
    from pathlib import Path
    return Path(env["HF_HUB_CACHE"])
