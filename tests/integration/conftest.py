"""Fixtures for tests that talk to the stand-in Hugging Face Hub (fake_hub.py)."""

import pytest

from fake_hub import FakeHub


@pytest.fixture
def fake_hub():
    """A running FakeHub (hub + CDN on 127.0.0.1), stopped after the test."""
    with FakeHub() as hub:
        yield hub
