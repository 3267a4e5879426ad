"""The questions cookiecutter asks (cookiecutter.json's `__prompts__`) make sense to someone who only reads them."""

from __future__ import annotations

import re
from collections.abc import Iterator

from tests.conftest import COOKIECUTTER_JSON

# A prompt may call a choice "the reference's" only if it says, in the same text, what the reference is.
REFERENCE = re.compile(r"\breference\b", flags=re.IGNORECASE)
REFERENCE_EXPLAINED = "the existing service this template's layout comes from"


def prompt_texts() -> Iterator[tuple[str, str]]:
    """(where, text) for every question and every choice label cookiecutter shows."""
    for variable, prompt in COOKIECUTTER_JSON["__prompts__"].items():
        if isinstance(prompt, str):
            yield variable, prompt
        else:
            for choice, label in prompt.items():
                yield f"{variable}.{choice}", label


def test_no_prompt_mentions_the_reference_without_saying_what_it_is() -> None:
    """Whoever bakes a project has not seen the reference service: a prompt that names it must explain it."""
    unexplained = [
        f"{where}: {text}"
        for where, text in prompt_texts()
        if REFERENCE.search(text) and REFERENCE_EXPLAINED not in text
    ]
    assert unexplained == []


def test_the_serverless_org_prompt_says_osls_ignores_it() -> None:
    """cookiecutter 2 asks every public variable, whatever the earlier answers (a default rendered from
    serverless_flavour is still asked), so the question itself must tell an osls user that the answer is unused."""
    prompt = COOKIECUTTER_JSON["__prompts__"]["serverless_org"]
    assert "osls ignores it" in prompt, prompt
