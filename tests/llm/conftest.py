"""The OpenAI provider tests use the shared ``fake_openai`` fixture from tests/conftest.py."""
