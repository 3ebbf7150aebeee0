"""Every message the engine says exists in every language, with the same placeholders."""

from __future__ import annotations

import string

import pytest

from flows.messages import COMMAND_HELP, LANGUAGES, MESSAGES


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_has_every_language_and_the_same_placeholders(key):
    texts = MESSAGES[key]
    assert set(texts) == set(LANGUAGES)
    assert len({frozenset(fields(t)) for t in texts.values()}) == 1


@pytest.mark.parametrize("command", sorted(COMMAND_HELP))
def test_every_command_is_explained_in_every_language(command):
    assert set(COMMAND_HELP[command]) == set(LANGUAGES)
