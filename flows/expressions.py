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

from jinja2 import ChainableUndefined, TemplateSyntaxError, Undefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import consume

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
Renderer = Callable[[Context], str]
_BLANK = ENV.from_string("")


class Scope:
    """One evaluation context shared by every condition of a walk through the flow.

    Building a Jinja context costs more than evaluating a typical condition, so a walk
    builds one and mutates the ``answers`` dict inside it as it goes.
    """

    __slots__ = ("context", "variables")

    def __init__(self, variables: dict[str, Any]) -> None:
        self.variables = variables
        self.context = _BLANK.new_context(variables, shared=True)


class Condition:
    """A ``when:`` expression; any error while evaluating it counts as false."""

    __slots__ = ("_template", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        # compile_expression wraps `{% set result = (expr) %}` in a template; we run that
        # template against a shared context instead of a fresh one per call.
        self._template = ENV.compile_expression(source)._template

    def test(self, scope: Scope) -> bool:
        context = scope.context
        try:
            consume(self._template.root_render_func(context))
            result = context.vars["result"]
        except Exception as exc:  # a condition must never break an interview
            log.warning("condition %r failed: %s", self.source, type(exc).__name__)
            return False
        return False if isinstance(result, Undefined) else bool(result)

    def __call__(self, variables: Context) -> bool:
        return self.test(Scope(dict(variables)))


class ParentAnswered:
    """A probe is asked only when its question was answered (not skipped)."""

    __slots__ = ("parent",)

    def __init__(self, parent: str) -> None:
        self.parent = parent

    def test(self, scope: Scope) -> bool:
        return scope.variables["answers"].get(self.parent) is not None


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
    """A predicate over the answers and case facts."""
    return Condition(source)


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
