"""Fixtures for the OpenAI provider tests: a fake OpenAI-compatible server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_openai import FakeOpenAI


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A started fake OpenAI server (``.base_url``, ``.script_chat``, ``.requests``), stopped afterwards."""
    with FakeOpenAI() as server:
        yield server
