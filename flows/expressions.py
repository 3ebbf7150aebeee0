"""Conditions (``when:``) and piped texts, evaluated in the shared sandbox (``flows.sandbox``).

A flow file is data written by an organisation, not code: an expression sees only the
answers so far (``answers`` raw values, ``labels`` what the respondent saw), the case facts
(``case``) and the respondent's previous answers (``last``), and nothing else. No globals,
no attribute starting with an underscore, no mutation, and each evaluation has budgets
(``EXPRESSION_LIMITS``): no string over 32,768 characters, no list over 10,000 items,
100,000 steps and one second.

An expression that fails never breaks an interview: a condition counts as false, a piped
text shows as written. One that goes over its budget is logged once, naming the flow and
the item (never an answer), and is not evaluated again: a broken expression affects that
question only, and cannot stall the thread that serves every chat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, Undefined, nodes
from jinja2.utils import consume

from flows.sandbox import EXPRESSION_LIMITS, METER, BudgetExceeded, Meter, Sandbox

log = logging.getLogger(__name__)

ENV = Sandbox(
    EXPRESSION_LIMITS, undefined=ChainableUndefined, autoescape=False, keep_trailing_newline=False
)
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

    __slots__ = ("_broken", "_template", "source", "where")

    def __init__(self, source: str, where: str = "a flow") -> None:
        self.source = source
        self.where = where
        self._broken = False
        # compile_expression wraps `{% set result = (expr) %}` in a template; we run that
        # template against a shared context instead of a fresh one per call.
        self._template = ENV.compile_expression(source)._template

    def test(self, scope: Scope) -> bool:
        if self._broken:
            return False
        context = scope.context
        token = METER.set(Meter(EXPRESSION_LIMITS))  # not `with`: this is the hot path
        try:
            consume(self._template.root_render_func(context))
            result = context.vars["result"]
        except BudgetExceeded as exc:
            self._broken = True
            log.warning(
                "the condition of %s went over its budget (%s); it counts as false from now on",
                self.where,
                exc,
            )
            return False
        except Exception as exc:  # a condition must never break an interview
            log.warning(
                "condition %r of %s failed: %s", self.source, self.where, type(exc).__name__
            )
            return False
        finally:
            METER.reset(token)
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


_DATA = frozenset(("answers", "labels", "case", "last"))


@lru_cache(maxsize=512)
def _parse(source: str, template: bool) -> nodes.Template | TemplateSyntaxError:
    """The parse tree of ``source``, once for the loader's three questions below. Read
    only: compiling parses again (and rewrites its own tree)."""
    try:
        return ENV.parse(source if template else "{{ (" + source + ") }}")
    except TemplateSyntaxError as exc:
        return exc


def parse_error(source: str, *, template: bool) -> str | None:
    """Why ``source`` does not parse, or None when it does."""
    tree = _parse(source, template)
    if isinstance(tree, TemplateSyntaxError):
        return tree.message or str(tree)
    return None


def budget_error(source: str, *, template: bool) -> str | None:
    """Why ``source`` goes over its budget whatever the answers, or None.

    Only an expression that reads nothing (no answers, labels, case facts or last answers)
    is tried, once, at load time: its result cannot depend on what anybody answers, so over
    its budget now is over it always. The review's payloads (``'x' * 10000 * 10000``, loops
    over ``[0] * 10000``) are all like that; anything that reads answers is left to run
    time."""
    if template and "{{" not in source and "{%" not in source:
        return None  # a plain text: shown as it is
    tree = _parse(source, template)
    if isinstance(tree, TemplateSyntaxError):
        return None
    if any(name.name in _DATA for name in tree.find_all(nodes.Name)):
        return None
    try:
        if template:
            ENV.from_string(source).render()
        else:
            with Meter(EXPRESSION_LIMITS):
                ENV.compile_expression(source)()
    except BudgetExceeded as exc:
        return str(exc)
    except Exception:  # any other failure is the runtime's to log
        return None
    return None


def references(source: str, *, template: bool) -> set[str]:
    """The item ids that ``source`` reads through ``answers.X``, ``answers['X']`` or labels."""
    tree = _parse(source, template)
    if isinstance(tree, TemplateSyntaxError):
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


def compile_condition(source: str, where: str = "a flow") -> Condition:
    """A predicate over the answers and case facts; ``where`` names the flow and the item
    in what is logged when it fails."""
    return Condition(source, where)


def compile_text(source: str, where: str = "a flow") -> Renderer:
    """A renderer for a text that may quote answers; plain texts cost nothing to render."""
    if "{{" not in source and "{%" not in source:
        return lambda _context: source
    template = ENV.from_string(source)  # renders under a meter of its own
    broken = False

    def render(context: Context) -> str:
        nonlocal broken
        if broken:
            return source
        try:
            return template.render(**context)
        except BudgetExceeded as exc:
            broken = True
            log.warning(
                "the text of %s went over its budget (%s); it shows as written from now on",
                where,
                exc,
            )
        except Exception as exc:
            log.warning("the text of %s failed: %s", where, type(exc).__name__)
        return source

    return render
