"""The one sandbox for everything an organisation writes: conditions, piped texts, templates.

Jinja's immutable sandbox keeps an expression away from Python's internals; it does nothing
about resources. ``'%0100000000d' % 1``, ``'x'|center(150000000)`` and three nested loops
over ``[0] * 10000`` all run in it. ``Sandbox`` adds budgets on top, in three ways:

- **Sizes.** Every string or list that an operator (``*``, ``**``, ``+``, ``%``, ``~``), a
  filter, a method (``'x'.center(...)``, ``'{}'.format(...)``) or a list/tuple/dict literal
  produces is measured, and where the size can be known beforehand (the width of
  ``center``, the count of ``*``, the widths in a ``%`` format) it is checked *before*
  anything is allocated. Anything turned into text (printed, joined, formatted) is
  measured first too, so a list holding one long string 100,000 times cannot be printed.
  Lists are measured deep (every element reachable through nested lists, tuples, dicts and
  sets), so ``[l, l]`` repeated in a loop cannot build an exponentially large tree.
- **Steps and time.** Before compiling, the parsed template is rewritten so that every
  ``for`` loop walks a counting iterator, and every include or import counts; calls,
  filters and the intercepted operators count too. A ``Meter`` holds the counters and a
  monotonic deadline for one evaluation or render.
- **Totals.** Each evaluation also has a budget of everything it produces (so that many
  strings under the size limit cannot add up to gigabytes), and the output of a render,
  a macro or a captured block is capped as it is joined.

A budget exceeded raises ``BudgetExceeded`` (a ``SecurityError``), whose ``budget`` says
which one. The callers decide what it means: a condition counts as false, a piped text
shows as written, a record is not rendered (``RenderError`` naming the template).

The meter of the evaluation in progress lives in a context variable: the bot evaluates on
one database thread, and a nested render (none today) would share its caller's budget.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import (
    Callable,
    Collection,
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    Sized,
    ValuesView,
)
from contextvars import ContextVar, Token
from functools import update_wrapper
from itertools import chain
from string import Formatter
from types import BuiltinMethodType, MethodType, TracebackType
from typing import Any, NamedTuple, cast

from jinja2 import nodes
from jinja2.environment import Template, TemplateModule
from jinja2.exceptions import SecurityError
from jinja2.filters import do_batch, make_attrgetter, sync_do_join, sync_do_slice
from jinja2.nodes import EvalContext
from jinja2.runtime import BlockReference, Context, LoopContext, Macro, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import Namespace, generate_lorem_ipsum, pass_context, pass_eval_context
from jinja2.visitor import NodeTransformer
from markupsafe import EscapeFormatter, Markup, soft_str

__all__ = [
    "EXPRESSION_LIMITS",
    "MAX_INT_BITS",
    "METER",
    "TEMPLATE_LIMITS",
    "BudgetExceeded",
    "Limits",
    "Meter",
    "Sandbox",
    "item_count",
    "text_size",
]


class Limits(NamedTuple):
    """The budgets of one evaluation (a condition, a piped text) or one render."""

    text: int
    """Characters in any one string an operator, filter, method or literal produces."""
    items: int
    """Elements in any one list, tuple, dict or set produced, counted deep."""
    output: int
    """Characters of output: the whole render, a macro's or a captured block's."""
    produced: int
    """Characters and elements produced in all, by every operation of the evaluation."""
    steps: int
    """Loop iterations, calls, filters, includes and intercepted operators."""
    seconds: float
    """Wall-clock time (monotonic), checked at every step."""


# Conditions and piped texts. A text item's answer may be 20,000 characters
# (flows/model.py), so a piped text that quotes one must fit it, with room to spare.
EXPRESSION_MAX_TEXT = 32_768
EXPRESSION_MAX_ITEMS = 10_000
EXPRESSION_MAX_PRODUCED = 1_000_000
EXPRESSION_MAX_STEPS = 100_000
EXPRESSION_MAX_SECONDS = 1.0

# Records rendered from an organisation's templates. The bundled templates, for a case of
# 200 sessions, all its session records in one HTML file: 550,000 characters of output,
# 1,240,000 characters and items produced, 7,100 steps.
TEMPLATE_MAX_TEXT = 1_000_000
TEMPLATE_MAX_ITEMS = 100_000
TEMPLATE_MAX_OUTPUT = 16_000_000
TEMPLATE_MAX_PRODUCED = 32_000_000
TEMPLATE_MAX_STEPS = 5_000_000
TEMPLATE_MAX_SECONDS = 5.0

EXPRESSION_LIMITS = Limits(
    text=EXPRESSION_MAX_TEXT,
    items=EXPRESSION_MAX_ITEMS,
    output=EXPRESSION_MAX_TEXT,
    produced=EXPRESSION_MAX_PRODUCED,
    steps=EXPRESSION_MAX_STEPS,
    seconds=EXPRESSION_MAX_SECONDS,
)
TEMPLATE_LIMITS = Limits(
    text=TEMPLATE_MAX_TEXT,
    items=TEMPLATE_MAX_ITEMS,
    output=TEMPLATE_MAX_OUTPUT,
    produced=TEMPLATE_MAX_PRODUCED,
    steps=TEMPLATE_MAX_STEPS,
    seconds=TEMPLATE_MAX_SECONDS,
)

# Integers: 8,192 bits is about 2,466 digits, below Python's 4,300-digit limit for printing.
MAX_INT_BITS = 8_192
# `tojson(indent=N)` repeats the indent on every line, once per level.
MAX_JSON_INDENT = 16
# textwrap breaks a long word in a loop that copies what is left of it: a word of L
# characters wrapped at width W costs about L * L / W character copies (a million-character
# word at width 1 takes 20 s). It cannot be interrupted, so it is refused beforehand.
MAX_WRAP_WORK = 2_000_000_000
# urlize runs a few regular expressions per word, about a second for a megabyte.
MAX_URLIZE_INPUT = 100_000
# The clock is read every this many steps (and at every check of a size).
CLOCK_EVERY = 64


class BudgetExceeded(SecurityError):
    """An expression or template produced too much or ran too long; ``budget`` names the
    limit (one of ``Limits``' fields, or ``number`` for an integer too large)."""

    def __init__(self, budget: str, message: str) -> None:
        super().__init__(message)
        self.budget = budget


class Meter:
    """The counters and the deadline of one evaluation or render.

    ``with Meter(limits):`` makes it the current meter of the sandbox hooks."""

    __slots__ = ("_next_clock", "_token", "deadline", "limits", "produced", "steps")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.steps = 0
        self.produced = 0
        self.deadline = time.monotonic() + limits.seconds
        self._next_clock = CLOCK_EVERY if limits.steps >= CLOCK_EVERY else limits.steps + 1
        self._token: Token[Meter | None] | None = None

    def __enter__(self) -> Meter:
        self._token = _CURRENT.set(self)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _CURRENT.reset(self._token)
            self._token = None

    def step(self) -> None:
        """One loop iteration, call, filter, include or operator."""
        self.steps += 1
        if self.steps >= self._next_clock:
            self._clock()

    def _clock(self) -> None:
        limit = self.limits.steps
        if self.steps > limit:
            raise BudgetExceeded(
                "steps", f"more than {limit:,} steps (loop iterations, calls and filters)"
            )
        self._next_clock = min(self.steps + CLOCK_EVERY, limit + 1)
        if time.monotonic() > self.deadline:
            raise BudgetExceeded("seconds", f"ran longer than {self.limits.seconds:g} s")

    def want_text(self, size: int, what: str = "a text") -> None:
        """Refuse a string of ``size`` characters, before or after making it."""
        if size > self.limits.text:
            raise BudgetExceeded(
                "text", f"{what} of {size:,} characters; at most {self.limits.text:,} allowed"
            )

    def want_items(self, count: int, what: str = "a list") -> None:
        if count > self.limits.items:
            raise BudgetExceeded(
                "items", f"{what} of {count:,} items; at most {self.limits.items:,} allowed"
            )

    def produce(self, size: int) -> None:
        """Count ``size`` characters or elements toward everything produced."""
        self.produced += size
        if self.produced > self.limits.produced:
            raise BudgetExceeded(
                "produced",
                f"produced more than {self.limits.produced:,} characters and items in all",
            )

    def checked(self, value: Any) -> Any:
        """``value`` after measuring it as a result: a string or a container."""
        if isinstance(value, str):
            size = len(value)
            self.want_text(size)
            self.produce(size)
        elif isinstance(value, _CONTAINERS):
            self.want_items(item_count(value, self.limits.items))
            self.produce(len(value))
        return value

    def printable(self, value: Any, what: str = "a value turned into text") -> None:
        """Refuse to turn ``value`` into text when the text would be too long."""
        if not isinstance(value, str | int | float | None):
            self.want_text(text_size(value, self.limits.text), what)


_CURRENT: ContextVar[Meter | None] = ContextVar("caseflow_sandbox_meter", default=None)
METER = _CURRENT
"""The meter of the evaluation in progress: ``with Meter(limits):`` sets it, and a hot path
may set and reset it itself."""
_CONTAINERS = (list, tuple, dict, set, frozenset)
_CONTAINER_TYPES = frozenset(_CONTAINERS)


def _meter(limits: Limits) -> Meter:
    """The meter of the evaluation in progress. Outside one (constant folding while a
    template compiles) sizes are still checked, against a meter of its own."""
    meter = _CURRENT.get()
    return meter if meter is not None else Meter(limits)


# --------------------------------------------------------------------------- measuring


def text_size(value: object, limit: int) -> int:
    """About how many characters ``str(value)`` has, counting no further than past ``limit``.

    Walks lists, tuples, sets, dicts, dict views, namespaces, imported template modules and
    dataclasses without converting anything, so a structure that would print as gigabytes
    costs at most ``limit`` steps to refuse."""
    if isinstance(value, str):
        return len(value)
    total = 0
    stack: list[object] = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str | bytes):
            total += len(v) + 4  # quotes and a separator
        elif isinstance(v, int):
            total += v.bit_length() // 3 + 2
        elif isinstance(v, list | tuple | set | frozenset | KeysView | ValuesView | ItemsView):
            total += 2 + 2 * len(v)
            if total <= limit:
                stack.extend(v)
        elif isinstance(v, Mapping):
            total += 2 + 4 * len(v)
            if total <= limit:
                stack.extend(v.keys())
                stack.extend(v.values())
        elif isinstance(v, Namespace):
            total += 14
            stack.append(getattr(v, "_Namespace__attrs", None))
        elif isinstance(v, TemplateModule):
            for part in v._body_stream:
                total += len(part)
                if total > limit:
                    break
        elif dataclasses.is_dataclass(v) and not isinstance(v, type):
            total += len(type(v).__name__) + 2
            for field in dataclasses.fields(v):
                total += len(field.name) + 3
                stack.append(getattr(v, field.name))
        else:
            total += 32  # numbers, dates, functions, undefined: short
        if total > limit:
            return total
    return total


def item_count(value: object, limit: int) -> int:
    """How many elements are reachable through the lists, tuples, dicts and sets of
    ``value`` (a list holding one list twice counts it twice), stopping past ``limit``."""
    total = 0
    stack: list[object] = [value]
    while stack:
        v = stack.pop()
        parts: tuple[Iterable[object], ...]
        if isinstance(v, dict):
            parts = (v.keys(), v.values())
        elif isinstance(v, list | tuple | set | frozenset):
            parts = (v,)
        else:
            continue
        total += len(v)
        if total > limit:
            return total
        for part in parts:
            # Scanning the element types in C keeps a flat list of 100,000 cheap to count.
            if not _CONTAINER_TYPES.isdisjoint(map(type, part)):
                stack.extend(c for c in part if type(c) in _CONTAINER_TYPES)
    return total


def _take(value: Any, meter: Meter) -> Any:
    """``value`` as something sized: an iterator (``map``, ``select``...) is consumed into
    a list, counting steps and refusing more than the items budget."""
    if isinstance(value, Sized) or not isinstance(value, Iterable):
        return value
    out = []
    limit = meter.limits.items
    for item in value:
        meter.step()
        out.append(item)
        if len(out) > limit:
            meter.want_items(len(out), "a sequence")
    return out


def _int_arg(value: Any) -> int:
    return value if isinstance(value, int) else 0


# --------------------------------------------------------------------------- printf


_PRINTF = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?"
    r"[hlL]?(?P<conversion>.?)",
    re.S,
)


def _printf_size(fmt: str, args: Any, meter: Meter) -> int:
    """An upper bound on the length of ``fmt % args``, refusing before it is made."""
    limit = meter.limits.text
    positional: tuple[Any, ...] = args if isinstance(args, tuple) else (args,)
    total = len(fmt)
    position = 0
    for match in _PRINTF.finditer(fmt):
        if match["conversion"] == "%":
            continue
        for part in ("width", "precision"):
            spec = match[part]
            if spec == "*":
                count = positional[position] if position < len(positional) else 0
                position += 1
                total += abs(_int_arg(count))
            elif spec:
                total += int(spec) if len(spec) <= 9 else limit + 1
        key = match["key"]
        if key is not None:
            value = args.get(key) if isinstance(args, Mapping) else None
        else:
            value = positional[position] if position < len(positional) else None
            position += 1
        total += text_size(value, limit)
        if total > limit:
            break
    meter.want_text(total, "a formatted text")
    return total


def _capped_format(value: Any, args: Any, meter: Meter) -> str:
    text = soft_str(value)
    _printf_size(text, args, meter)
    return str(text % args)


# --------------------------------------------------------------------------- str.format


_SPEC_NUMBER = re.compile(r"\d+")


class _CappedFormatterMixin(Formatter):
    """Checks every replacement field of ``str.format``: the numbers in its spec (a width
    of 100000000, or a date's ``%100000000Y``), the value's printed size, and the total."""

    _meter: Meter
    _total: int

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion is not None:
            self._meter.printable(value)
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        meter = self._meter
        for number in _SPEC_NUMBER.findall(format_spec):
            meter.want_text(int(number) if len(number) <= 9 else meter.limits.text + 1)
        meter.printable(value)
        result = super().format_field(value, format_spec)
        self._total += len(result)
        meter.want_text(self._total, "a formatted text")
        return result


class _CappedFormatter(_CappedFormatterMixin, SandboxedFormatter):
    def __init__(self, env: Sandbox, meter: Meter) -> None:
        super().__init__(env)
        self._meter, self._total = meter, 0


class _CappedEscapeFormatter(_CappedFormatterMixin, SandboxedFormatter, EscapeFormatter):
    def __init__(self, env: Sandbox, meter: Meter, escape: Callable[[Any], Markup]) -> None:
        super().__init__(env, escape=escape)
        self._meter, self._total = meter, 0


# --------------------------------------------------------------------------- methods


# The str (and Markup) methods a template may call. Left out: encode (bytes have the same
# growing methods again), translate and maketrans (a table can map one character to a long
# string), format and format_map (wrapped by ``Sandbox.wrap_str_format``).
_STR_METHODS = frozenset(
    [
        "capitalize",
        "casefold",
        "center",
        "count",
        "endswith",
        "expandtabs",
        "find",
        "index",
        "isalnum",
        "isalpha",
        "isascii",
        "isdecimal",
        "isdigit",
        "isidentifier",
        "islower",
        "isnumeric",
        "isprintable",
        "isspace",
        "istitle",
        "isupper",
        "join",
        "ljust",
        "lower",
        "lstrip",
        "partition",
        "removeprefix",
        "removesuffix",
        "replace",
        "rfind",
        "rindex",
        "rjust",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "upper",
        "zfill",
        "striptags",
        "unescape",
        "escape",
    ]
)
_LINE_BREAKS = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_WORDS = re.compile(r"\S+")
_STRFTIME_WIDTH = re.compile(r"%[-_0^#]*\d")


def _replace_size(s: str, old: str, new: str, count: int) -> int:
    found = s.count(old) if old else len(s) + 1
    if count >= 0:
        found = min(found, count)
    return len(s) + found * max(len(new) - len(old), 0)


def _split_count(s: str, sep: str | None, maxsplit: int, meter: Meter) -> None:
    if maxsplit >= 0:
        bound = maxsplit + 1
    elif sep:
        bound = s.count(sep) + 1
    else:
        bound = len(s) // 2 + 1
        if bound > meter.limits.items:
            bound = sum(1 for _ in _WORDS.finditer(s))
    meter.want_items(bound)


def _check_method(owner: Any, name: str, args: tuple[Any, ...], meter: Meter) -> tuple[Any, ...]:
    """Refuse a method call that would produce too much, before it runs; returns the
    arguments (an iterator argument consumed into a list)."""
    if isinstance(owner, str):
        if name not in _STR_METHODS:
            raise SecurityError(f"str.{name} is not allowed in the sandbox")
        if name in ("center", "ljust", "rjust", "zfill") and args:
            meter.want_text(max(len(owner), _int_arg(args[0])))
        elif name == "expandtabs":
            tabsize = _int_arg(args[0]) if args else 8
            meter.want_text(len(owner) + owner.count("\t") * max(tabsize, 0))
        elif name == "replace" and len(args) >= 2:
            old, new = args[0], args[1]
            if isinstance(old, str) and isinstance(new, str):
                count = _int_arg(args[2]) if len(args) > 2 else -1
                meter.want_text(_replace_size(owner, old, new, count))
        elif name == "join" and args:
            items = _take(args[0], meter)
            if isinstance(items, Collection):
                meter.want_items(len(items))
                size = len(owner) * max(len(items) - 1, 0)
                for item in items:
                    size += len(item) if isinstance(item, str) else 0
                    if size > meter.limits.text:
                        break
                meter.want_text(size)
            args = (items, *args[1:])
        elif name in ("split", "rsplit"):
            sep = args[0] if args and isinstance(args[0], str) else None
            maxsplit = _int_arg(args[1]) if len(args) > 1 else -1
            _split_count(owner, sep, maxsplit, meter)
        elif name == "splitlines" and len(owner) >= meter.limits.items:
            meter.want_items(sum(1 for _ in _LINE_BREAKS.finditer(owner)) + 1)
    elif isinstance(owner, bytes | bytearray):
        raise SecurityError("bytes methods are not allowed in the sandbox")
    elif name == "to_bytes" and isinstance(owner, int):
        meter.want_text(_int_arg(args[0]) if args else 1)
    elif name == "fromkeys" and args:
        args = (_take(args[0], meter), *args[1:])
        if isinstance(args[0], Sized):
            meter.want_items(len(args[0]))
    elif name in ("union", "intersection", "difference", "symmetric_difference"):
        args = tuple(_take(a, meter) for a in args)
    elif name == "strftime" and args and isinstance(args[0], str):
        if _STRFTIME_WIDTH.search(args[0]):
            raise SecurityError("a width in a date format is not allowed in the sandbox")
        meter.want_text(len(args[0]) * 16, "a date format")
    return args


# --------------------------------------------------------------------------- filters


# Filters that do not turn their value or arguments into text (they count, pick, sort or
# pass things along); every other filter has its value and arguments measured first.
_STRUCTURAL = frozenset(
    [
        "abs",
        "attr",
        "batch",
        "count",
        "d",
        "default",
        "dictsort",
        "first",
        "float",
        "groupby",
        "int",
        "items",
        "join",
        "last",
        "length",
        "list",
        "map",
        "max",
        "min",
        "random",
        "reject",
        "rejectattr",
        "reverse",
        "round",
        "select",
        "selectattr",
        "slice",
        "sort",
        "sum",
        "unique",
    ]
)
# Filters that hold on to every element of their value: an iterator is consumed into a
# list first, under the items budget.
_MATERIALISE = frozenset(["groupby", "reverse", "slice", "sort", "unique"])


def _pass_offset(func: Callable[..., Any]) -> int:
    return 1 if getattr(func, "jinja_pass_arg", None) is not None else 0


Bound = Callable[..., int]
"""An upper bound on the size of a filter's result, from its (value, *args, **kwargs)."""


def _center_bound(value: Any, width: Any = 80) -> int:
    return max(len(soft_str(value)), _int_arg(width))


def _indent_bound(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> int:
    text = soft_str(s)
    pad = len(width) if isinstance(width, str) else _int_arg(width)
    return len(text) + (text.count("\n") + 1) * pad


def _replace_bound(s: Any, old: Any, new: Any, count: Any = None) -> int:
    count = count if isinstance(count, int) else -1
    return _replace_size(soft_str(s), soft_str(old), soft_str(new), count)


def _wordwrap_bound(
    s: Any,
    width: Any = 79,
    break_long_words: bool = True,
    wrapstring: Any = None,
    break_on_hyphens: bool = True,
) -> int:
    text = soft_str(s)
    columns = max(_int_arg(width), 1)
    longest = max((m.end() - m.start() for m in _WORDS.finditer(text)), default=0)
    if break_long_words and longest * longest // columns > MAX_WRAP_WORK:
        raise BudgetExceeded("seconds", f"wrapping a word of {longest:,} characters at {columns}")
    lines = text.count(" ") + text.count("\t") + text.count("-") + len(text) // columns
    lines = min(lines + text.count("\n") + 1, len(text) + 1)
    wrap = soft_str(wrapstring) if wrapstring is not None else "\n"
    return len(text) + lines * len(wrap)


def _urlize_bound(value: Any, *args: Any, **kwargs: Any) -> int:
    text = soft_str(value)
    if len(text) > MAX_URLIZE_INPUT:
        raise BudgetExceeded(
            "text", f"urlize of {len(text):,} characters; at most {MAX_URLIZE_INPUT:,} allowed"
        )
    extra = sum(len(soft_str(a)) for a in (*args, *kwargs.values()) if isinstance(a, str))
    words = sum(1 for _ in _WORDS.finditer(text))
    return 3 * len(text) + words * (extra + 64)


def _tojson_bound(value: Any, indent: Any = None) -> int:
    size = len(indent) if isinstance(indent, str) else _int_arg(indent)
    if size > MAX_JSON_INDENT:
        raise BudgetExceeded("text", f"a JSON indent of {size:,}; at most {MAX_JSON_INDENT}")
    return 0


_BOUNDS: dict[str, Bound] = {
    "center": _center_bound,
    "indent": _indent_bound,
    "replace": _replace_bound,
    "wordwrap": _wordwrap_bound,
    "urlize": _urlize_bound,
    "tojson": _tojson_bound,
}


def _guard(func: Callable[..., Any], limits: Limits, structural: bool, bound: Bound | None) -> Any:
    """``func`` as a filter that counts a step, measures what it is given (unless it is
    structural), refuses a result over ``bound`` before making it, and measures the result."""
    skip = _pass_offset(func)

    def guarded(*args: Any, **kwargs: Any) -> Any:
        meter = _meter(limits)
        meter.step()
        if not structural:
            for value in (*args[skip:], *kwargs.values()):
                meter.printable(value)
        if bound is not None:
            meter.want_text(bound(*args[skip:], **kwargs))
        return meter.checked(func(*args, **kwargs))

    update_wrapper(guarded, func)
    return guarded


def _materialising(func: Callable[..., Any], limits: Limits) -> Callable[..., Any]:
    skip = _pass_offset(func)

    def taking(*args: Any, **kwargs: Any) -> Any:
        if len(args) > skip:
            meter = _meter(limits)
            args = (*args[:skip], _take(args[skip], meter), *args[skip + 1 :])
        return func(*args, **kwargs)

    update_wrapper(taking, func)
    return taking


def _own_filters(limits: Limits, env: Sandbox) -> dict[str, Callable[..., Any]]:
    """Filters replaced outright: the size of what they make depends on more than one
    argument, or on every element of their value."""

    @pass_eval_context
    def join(eval_ctx: EvalContext, value: Any, d: Any = "", attribute: Any = None) -> str:
        meter = _meter(limits)
        items = _take(value, meter)
        if attribute is not None:
            getter = make_attrgetter(eval_ctx.environment, attribute)
            items = [getter(item) for item in items]
        if not isinstance(items, Collection):  # undefined: let Jinja say so
            return sync_do_join(eval_ctx, items, d)
        meter.want_items(len(items))
        meter.printable(d)
        size = text_size(d, limits.text) * max(len(items) - 1, 0)
        for item in items:
            size += text_size(item, limits.text)
            if size > limits.text:
                break
        meter.want_text(size, "a joined text")
        return sync_do_join(eval_ctx, items, d)

    def to_list(value: Any) -> list[Any]:
        meter = _meter(limits)
        if isinstance(value, Sized):
            meter.want_items(len(value))
        return list(_take(value, meter))

    def batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
        _meter(limits).want_items(_int_arg(linecount), "a batch")
        return do_batch(value, linecount, fill_with)

    def slice_(value: Any, slices: int, fill_with: Any = None) -> Any:
        _meter(limits).want_items(_int_arg(slices), "a list of slices")
        return sync_do_slice(value, slices, fill_with)

    @pass_context
    def sum_(context: Context, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
        if attribute is not None:
            iterable = map(make_attrgetter(context.environment, attribute), iterable)
        total = start
        for item in iterable:  # each addition measured, and counted as a step
            total = env.call_binop(context, "+", total, item)
        return total

    def format_(value: Any, *args: Any, **kwargs: Any) -> str:
        if args and kwargs:
            raise TypeError("can't handle positional and keyword arguments at the same time")
        return _capped_format(value, kwargs or args, _meter(limits))

    return {
        "join": join,
        "list": to_list,
        "batch": batch,
        "slice": slice_,
        "sum": sum_,
        "format": format_,
    }


def _lipsum(limits: Limits) -> Callable[..., str]:
    def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
        _meter(limits).want_text(abs(_int_arg(n)) * abs(_int_arg(max)) * 12, "lorem ipsum")
        return generate_lorem_ipsum(n, html, min, max)

    return lipsum


# --------------------------------------------------------------------------- the AST


LOOP, ITEMS, CONCAT, STEP = "_budget_loop", "_budget_items", "_budget_concat", "_budget_step"


def _filter(node: nodes.Expr, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


def _constant(items: Iterable[nodes.Node]) -> bool:
    return all(isinstance(item, nodes.Const) for item in items)


class _Budgeting(NodeTransformer):
    """Rewrites a parsed template so that loops, includes and imports count steps, and
    literals and ``~`` measure what they build."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _filter(node.iter, LOOP)  # type: ignore[arg-type]
        return node

    def visit_List(self, node: nodes.List) -> nodes.Node:
        self.generic_visit(node)
        return node if _constant(node.items) else _filter(node, ITEMS)

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        self.generic_visit(node)
        if node.ctx != "load" or _constant(node.items):
            return node
        return _filter(node, ITEMS)

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
        self.generic_visit(node)
        if _constant(chain.from_iterable((p.key, p.value) for p in node.items)):
            return node
        return _filter(node, ITEMS)

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _filter(nodes.Tuple(node.nodes, "load", lineno=node.lineno), CONCAT)

    def _count_template(self, node: nodes.Include | nodes.Import | nodes.FromImport) -> nodes.Node:
        self.generic_visit(node)
        node.template = _filter(node.template, STEP)
        return node

    visit_Include = _count_template
    visit_Import = _count_template
    visit_FromImport = _count_template


class _Counted:
    """A loop's iterable: each element counts one step; the length is the original's."""

    __slots__ = ("_inner", "_meter")

    def __init__(self, inner: Any, meter: Meter) -> None:
        self._inner, self._meter = inner, meter

    def __iter__(self) -> Iterator[Any]:
        step = self._meter.step
        for item in self._inner:
            step()
            yield item

    def __len__(self) -> int:
        return len(self._inner)


def _hook_filters(env: Sandbox) -> dict[str, Callable[..., Any]]:
    limits = env.limits

    @pass_context
    def loop(context: Context, iterable: Any) -> _Counted:
        return _Counted(iterable, _meter(limits))

    @pass_context
    def items(context: Context, value: Any) -> Any:
        meter = _meter(limits)
        meter.step()
        meter.want_items(item_count(value, limits.items))
        return value

    @pass_eval_context
    def concat(eval_ctx: EvalContext, parts: tuple[Any, ...]) -> str:
        meter = _meter(limits)
        size = 0
        for part in parts:
            size += text_size(part, limits.text)
            meter.want_text(size, "a text joined with ~")
        join = markup_join if eval_ctx.volatile or eval_ctx.autoescape else str_join
        return meter.checked(join(parts))  # type: ignore[no-any-return]

    @pass_context
    def step(context: Context, value: Any) -> Any:
        _meter(limits).step()
        return value

    return {LOOP: loop, ITEMS: items, CONCAT: concat, STEP: step}


# --------------------------------------------------------------------------- environment


class _MeteredTemplate(Template):
    """A template whose every render runs under a meter (its caller's, if one is running)."""

    environment: Sandbox

    def render(self, *args: Any, **kwargs: Any) -> str:
        if _CURRENT.get() is not None:
            return super().render(*args, **kwargs)
        token = _CURRENT.set(Meter(self.environment.limits))
        try:
            return super().render(*args, **kwargs)
        finally:
            _CURRENT.reset(token)


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with budgets (see the module's docstring)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    template_class = _MeteredTemplate

    def __init__(self, limits: Limits, **options: Any) -> None:
        finalize = options.pop("finalize", None)
        super().__init__(finalize=self._finalizer(finalize), **options)
        self.limits = limits
        raw = dict(self.filters)
        raw.update(_own_filters(limits, self))
        for name, func in raw.items():
            self.add_filter(name, func)
        self.filters.update(_hook_filters(self))
        for name in ("lower", "upper"):
            test = cast(Callable[..., Any], self.tests[name])
            self.tests[name] = _guard(test, limits, structural=False, bound=None)
        if "lipsum" in self.globals:
            self.globals["lipsum"] = _lipsum(limits)

    def add_filter(self, name: str, func: Callable[..., Any], bound: Bound | None = None) -> None:
        """Register ``func`` as the filter ``name``, guarded: its value and arguments are
        measured, its result too, and ``bound`` (or the built-in one for that name) refuses
        a result that would be too long before ``func`` runs."""
        if name in _MATERIALISE:
            func = _materialising(func, self.limits)
        structural = name in _STRUCTURAL
        self.filters[name] = _guard(func, self.limits, structural, bound or _BOUNDS.get(name))

    def _finalizer(self, inner: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
        if inner is not None and getattr(inner, "jinja_pass_arg", None) is not None:
            raise TypeError("the sandbox takes a finalize function of the value alone")

        def finalize(value: Any) -> Any:
            if not isinstance(value, str):
                _meter(self.limits).printable(value, "a printed value")
            return value if inner is None else inner(value)

        return finalize

    # -- output ----------------------------------------------------------------------------

    def concat(self, parts: Iterable[str]) -> str:
        """Join output (a render, a macro, a captured block) under the output budget."""
        limit = self.limits.output
        buffer: list[str] = []
        append = buffer.append
        size = 0
        for part in parts:  # part by part: in Markdown each printed value is a new copy
            size += len(part)
            if size > limit:
                raise BudgetExceeded(
                    "output", f"output of more than {limit:,} characters; at most that allowed"
                )
            append(part)
        _meter(self.limits).produce(size)
        return "".join(buffer)

    # -- compiling -------------------------------------------------------------------------

    def _generate(
        self,
        source: nodes.Template,
        name: str | None,
        filename: str | None,
        defer_init: bool = False,
    ) -> str:
        tree = _Budgeting().visit(source)
        tree.set_environment(self)
        return super()._generate(tree, name, filename, defer_init)

    # -- runtime hooks ---------------------------------------------------------------------

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        meter = _meter(self.limits)
        meter.step()
        if operator == "*":
            _check_repeat(meter, left, right)  # the result's size is known: no need to
            return _produced(meter, left * right)  # measure it again
        if operator == "+":
            _check_add(meter, left, right)
            return _produced(meter, left + right)
        if operator == "%":
            if isinstance(left, str):
                _printf_size(left, right, meter)
            return meter.checked(left % right)
        if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
            _want_bits(left.bit_length() * right)
        return left**right

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        meter = _meter(__self.limits)
        meter.step()
        if not __self.is_safe_callable(__obj):
            raise SecurityError(f"{__obj!r} is not safely callable")
        if isinstance(__obj, Macro | BlockReference):  # output: joined by concat
            return __context.call(__obj, *args, **kwargs)
        if isinstance(__obj, LoopContext):  # a recursive loop walks its children
            if args:
                args = (_Counted(args[0], meter), *args[1:])
            return __context.call(__obj, *args, **kwargs)
        owner = getattr(__obj, "__self__", None)
        if owner is not None:
            args = _check_method(owner, getattr(__obj, "__name__", ""), args, meter)
        return meter.checked(__context.call(__obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` and ``format_map``, with every field and the total measured."""
        if not isinstance(value, MethodType | BuiltinMethodType) or value.__name__ not in (
            "format",
            "format_map",
        ):
            return None
        owner = value.__self__
        if not isinstance(owner, str):
            return None
        fmt: str = owner
        is_format_map = value.__name__ == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            meter = _meter(self.limits)
            formatter: _CappedFormatterMixin
            if isinstance(fmt, Markup):
                formatter = _CappedEscapeFormatter(self, meter, escape=fmt.escape)
            else:
                formatter = _CappedFormatter(self, meter)
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs, args = args[0], ()
            return type(fmt)(formatter.vformat(fmt, args, kwargs))

        return update_wrapper(wrapper, value)


def _produced(meter: Meter, result: Any) -> Any:
    if isinstance(result, str | list | tuple):
        meter.produce(len(result))
    return result


def _want_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise BudgetExceeded(
            "number", f"a number of about {bits:,} bits; at most {MAX_INT_BITS:,} allowed"
        )


def _check_repeat(meter: Meter, left: Any, right: Any) -> None:
    """``left * right``: a repeated string or list, or a product of integers."""
    for seq, count in ((left, right), (right, left)):
        if isinstance(count, int) and not isinstance(seq, int):
            if isinstance(seq, str | bytes):
                meter.want_text(len(seq) * max(count, 0), "a repeated text")
                return
            if isinstance(seq, list | tuple):
                times = max(count, 0)
                meter.want_items(len(seq) * times, "a repeated list")
                meter.want_items(item_count(seq, meter.limits.items) * times, "a repeated list")
                return
    if isinstance(left, int) and isinstance(right, int):
        _want_bits(left.bit_length() + right.bit_length())


def _check_add(meter: Meter, left: Any, right: Any) -> None:
    if isinstance(left, str) and isinstance(right, str):
        meter.want_text(len(left) + len(right))
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
        limit = meter.limits.items
        meter.want_items(len(left) + len(right))
        meter.want_items(item_count(left, limit) + item_count(right, limit))
