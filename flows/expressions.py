"""Conditions (``when:``) and piped texts, evaluated in Jinja's immutable sandbox.

A flow file is data written by an organisation, not code: an expression sees only the
answers so far (``answers`` raw values, ``labels`` what the respondent saw), the case facts
(``case``) and the respondent's previous answers (``last``), and nothing else. No globals,
no attribute starting with an underscore, no mutation, and no operator that could blow up
memory (``'x' * 10**9``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

log = logging.getLogger(__name__)

_MAX_REPEAT = 10_000


class _FlowSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with the two operators that can allocate without bound capped."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > 100:
                raise SecurityError("exponent too large")
            return left**right
        if isinstance(left, str | list | tuple) and isinstance(right, int) and right > _MAX_REPEAT:
            raise SecurityError("repetition too large")
        if isinstance(right, str | list | tuple) and isinstance(left, int) and left > _MAX_REPEAT:
            raise SecurityError("repetition too large")
        return left * right


ENV = _FlowSandbox(undefined=ChainableUndefined, autoescape=False, keep_trailing_newline=False)
ENV.globals.clear()

Context = Mapping[str, Any]
Condition = Callable[[Context], bool]
Renderer = Callable[[Context], str]


def parse_error(source: str, *, template: bool) -> str | None:
    """Why ``source`` does not parse, or None when it does."""
    try:
        ENV.parse(source if template else "{{ (" + source + ") }}")
    except TemplateSyntaxError as exc:
        return exc.message or str(exc)
    return None


def references(source: str, *, template: bool) -> set[str]:
    """The item ids that ``source`` reads through ``answers.X``, ``answers['X']`` or labels."""
    try:
        tree = ENV.parse(source if template else "{{ (" + source + ") }}")
    except TemplateSyntaxError:
        return set()
    found: set[str] = set()
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name in ("answers", "labels"):
            found.add(node.attr)
    for item in tree.find_all(nodes.Getitem):
        named = isinstance(item.node, nodes.Name) and item.node.name in ("answers", "labels")
        if named and isinstance(item.arg, nodes.Const) and isinstance(item.arg.value, str):
            found.add(item.arg.value)
    return found


def compile_condition(source: str) -> Condition:
    """A predicate over a context; any error while evaluating it counts as false."""
    expression = ENV.compile_expression(source, undefined_to_none=True)

    def condition(context: Context) -> bool:
        try:
            return bool(expression(**context))
        except Exception as exc:  # a condition must never break an interview
            log.warning("condition %r failed: %s", source, type(exc).__name__)
            return False

    return condition


def compile_text(source: str) -> Renderer:
    """A renderer for a text that may quote answers; plain texts cost nothing to render."""
    if "{{" not in source and "{%" not in source:
        return lambda _context: source
    template = ENV.from_string(source)

    def render(context: Context) -> str:
        try:
            return template.render(**context)
        except Exception as exc:
            log.warning("text template failed: %s", type(exc).__name__)
            return source

    return render
