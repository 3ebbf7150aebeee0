"""What an organisation writes cannot exhaust memory or time (issue 10, finding 7).

The review's payloads (``('x'*10000*10000)|length``, ``'%0100000000d' % 1``,
``'x'|center(150000000)`` and three nested loops over ``[0]*10000``) in each place where an
organisation's text is evaluated (a flow condition, a piped text, an organisation template)
are refused with ``BudgetExceeded`` naming the budget, before the memory is allocated. The
bot keeps going: a condition counts as false, a piped text shows as written, both logged
with the flow and the item; a record fails with a ``RenderError`` naming its template.
Ordinary templates render exactly as plain Jinja renders them.
"""

from __future__ import annotations

import logging
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import pytest
from jinja2 import ChainableUndefined, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

import templates.render
from bot.cli import main
from flows.engine import Reply
from flows.expressions import ENV, compile_condition, compile_text
from flows.load import parse_flow
from flows.problems import Code, FlowError
from flows.sandbox import (
    EXPRESSION_LIMITS,
    EXPRESSION_MAX_TEXT,
    TEMPLATE_LIMITS,
    TEMPLATE_MAX_OUTPUT,
    TEMPLATE_MAX_PRODUCED,
    TEMPLATE_MAX_TEXT,
    BudgetExceeded,
    Meter,
    Sandbox,
)
from templates.render import Renderer, RenderError
from tests.conftest import NOW, flow_yaml, make_engine, run
from tests.test_records import administer

REPEAT = "('x' * 10000 * 10000)|length"
PRINTF = "'%0100000000d' % 1"
CENTER = "'x'|center(150000000)"
ALLOCATIONS = {"repeat": REPEAT, "printf": PRINTF, "center": CENTER}
NESTED_LOOPS = (
    "{% for a in [0] * 10000 %}{% for b in [0] * 10000 %}{% for c in [0] * 10000 %}"
    "{% endfor %}{% endfor %}{% endfor %}"
)
# A condition is one expression: it cannot hold a loop. The most it can iterate is a chain
# of filters over a list, each element of each filter counting as a step.
LONG_CHAIN = "(([0] * 10000)" + "|map('abs')" * 11 + ")|list|length > 0"
# What a piped text and a template are given: each payload as a template.
TEXTS = {name: "{{ " + payload + " }}" for name, payload in ALLOCATIONS.items()}
TEXTS["nested loops"] = NESTED_LOOPS
# Which budget stops each: a loop is stopped by the step budget or, on a slow machine, by
# the time budget, whichever comes first.
STOPPED_BY = {"repeat": {"text"}, "printf": {"text"}, "center": {"text"}}
STOPPED_BY["nested loops"] = STOPPED_BY["long chain"] = {"steps", "seconds"}
# The payloads would allocate 100 to 150 MB; refused, they stay far below this.
ALLOCATED_AT_MOST = 8_000_000
VARIABLES = {"answers": {}, "labels": {}, "case": {}, "last": {}}


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    """The peak of memory allocated inside the block, in bytes (``peak[0]`` after it)."""
    peak: list[int] = []
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


def condition_flow(when: str) -> str:
    return flow_yaml(
        f"""
        - {{id: name, type: text, prompt: {{en: "Name?"}}}}
        - {{id: b, type: yesno, prompt: {{en: "B?"}}, when: "{when}"}}
        - {{id: c, type: yesno, prompt: {{en: "C?"}}}}
        """
    )


def text_flow(text: str) -> str:
    quoted = text.replace('"', '\\"')
    return flow_yaml(
        f"""
        - {{id: name, type: text, prompt: {{en: "Name?"}}}}
        - {{id: b, type: yesno, prompt: {{en: "{quoted}"}}}}
        """
    )


# -- conditions ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ALLOCATIONS))
def test_each_allocation_is_refused_in_a_condition_before_it_is_made(name):
    with peak_memory() as peak, pytest.raises(BudgetExceeded) as caught, Meter(EXPRESSION_LIMITS):
        ENV.compile_expression(ALLOCATIONS[name])(**VARIABLES)
    assert caught.value.budget in STOPPED_BY[name]
    assert peak[0] < ALLOCATED_AT_MOST


def test_a_long_chain_of_filters_in_a_condition_is_stopped_by_the_step_budget():
    with pytest.raises(BudgetExceeded) as caught, Meter(EXPRESSION_LIMITS):
        ENV.compile_expression(LONG_CHAIN)(**VARIABLES)
    assert caught.value.budget in STOPPED_BY["long chain"]


# In a flow the payloads read an answer first: the loader refuses one that reads nothing
# (see the end of this file), so these are the ones left to run time.
@pytest.mark.parametrize("payload", [*ALLOCATIONS.values(), LONG_CHAIN])
def test_a_condition_over_its_budget_counts_as_false_and_is_logged_with_flow_and_item(
    payload, caplog
):
    when = f"answers.name and ({payload})"
    engine = make_engine(condition_flow(when.replace('"', '\\"')))
    session = engine.new_session("s", "en")
    with caplog.at_level(logging.WARNING, logger="flows.expressions"):
        turn = run(engine, session, "Ann")
    assert turn.prompt.token == "c"
    assert "the condition of flow t v1, item b went over its budget" in caplog.text
    assert "Ann" not in caplog.text


def test_a_condition_over_its_budget_is_not_evaluated_again(caplog):
    engine = make_engine(condition_flow("answers.name * 100000000"))
    with caplog.at_level(logging.WARNING, logger="flows.expressions"):
        for sid in ("s1", "s2", "s3"):
            assert run(engine, engine.new_session(sid, "en"), "Ann").prompt.token == "c"
    assert caplog.text.count("went over its budget") == 1
    assert "a repeated text of 300,000,000 characters" in caplog.text


def test_an_ordinary_failing_condition_is_still_tried_each_time(caplog):
    condition = compile_condition("answers.a > 'x'", "flow t v1, item b")
    with caplog.at_level(logging.WARNING, logger="flows.expressions"):
        assert condition({"answers": {"a": 3}}) is False
        assert condition({"answers": {"a": "y"}}) is True
    assert """condition "answers.a > 'x'" of flow t v1, item b failed: TypeError""" in caplog.text


# -- piped texts -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_each_payload_is_refused_in_a_piped_text(name):
    with peak_memory() as peak, pytest.raises(BudgetExceeded) as caught:
        ENV.from_string(TEXTS[name]).render(**VARIABLES)
    assert caught.value.budget in STOPPED_BY[name]
    assert peak[0] < ALLOCATED_AT_MOST


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_a_piped_text_over_its_budget_shows_as_written_and_is_logged_with_flow_and_item(
    name, caplog
):
    text = "Hello {{ answers.name }}! {% if answers.name %}" + TEXTS[name] + "{% endif %}"
    engine = make_engine(text_flow(text))
    session = engine.new_session("s", "en")
    with caplog.at_level(logging.WARNING, logger="flows.expressions"):
        turn = run(engine, session, "Ann")
        assert turn.prompt.token == "b"
        assert turn.prompt.text == text
        turn = engine.handle(session, Reply(text="yes"), NOW)  # the interview goes on
    assert turn.prompt.kind == "review"
    assert "the text of flow t v1, item b prompt (en) went over its budget" in caplog.text
    assert caplog.text.count("went over its budget") == 1  # not rendered again
    assert "Ann" not in caplog.text


def test_a_piped_text_quoting_the_longest_answer_allowed_still_renders():
    story = "很好，" * 6_666 + "ok"  # 20,000 characters: the most a text item takes
    render = compile_text("{{ answers.story|upper }}{{ '.' * 10 }}", "flow t v1, item b")
    assert render({"answers": {"story": story}}) == story.upper() + ".........."
    over = compile_text("{{ 'x' * " + str(EXPRESSION_MAX_TEXT + 1) + " }}", "flow t v1, item b")
    assert over(VARIABLES).startswith("{{")


# -- organisation templates ------------------------------------------------------------------


@pytest.fixture
def org(tmp_path):
    folder = tmp_path / "org"
    folder.mkdir()
    return folder


@pytest.fixture
def session_id(store):
    worker = store.add_person("Wang Fang", "worker")
    case = store.create_case("LBC-07", worker, title="Xiaoming")
    lines = ["today", "6", "A call.", "1", "Talked.", "no", "no", "/submit"]
    return administer(store, "contact_note", case, worker, lines)


def render_with(store, org, session_id, source: str, fmt: str = "md") -> str:
    (org / f"session.{fmt}.j2").write_text(source, encoding="utf-8")
    return Renderer(store, templates=org, audit=False).session(session_id, fmt)


@pytest.mark.parametrize("fmt", ["md", "html"])
@pytest.mark.parametrize("name", sorted(TEXTS))
def test_each_payload_is_refused_in_an_organisation_template(store, org, session_id, name, fmt):
    source = "{{ records[0].case_code }}\n" + TEXTS[name]
    # Memory is traced for the allocations only: tracing makes five million steps slow.
    traced = peak_memory() if name in ALLOCATIONS else nullcontext([0])
    with traced as peak, pytest.raises(RenderError) as caught:
        render_with(store, org, session_id, source, fmt)
    assert str(caught.value).startswith(
        f"template session.{fmt}.j2 went over its budget at session.{fmt}.j2, line 2: "
    )
    assert isinstance(caught.value.__cause__, BudgetExceeded)
    assert caught.value.__cause__.budget in STOPPED_BY[name]
    assert peak[0] < ALLOCATED_AT_MOST


@pytest.mark.parametrize(
    ("source", "budget"),
    [
        ("{{ 'x'.center(150000000) }}", "text"),
        ("{{ '{:>150000000}'.format(1) }}", "text"),
        ("{{ '{:%100000000Y}'.format(records[0]) }}", "text"),
        ("{{ '%.100000000f'|format(1.0) }}", "text"),
        ("{{ '%*d' % (100000000, 1) }}", "text"),
        ("{{ 'x'|indent(150000000, true) }}", "text"),
        ("{{ ('a' * 500000)|replace('a', 'bbbb') }}", "text"),
        ("{{ ('x' * 900000)|wordwrap(1) }}", "seconds"),
        ("{{ lipsum(1000000) }}", "text"),
        ("{{ (1).to_bytes(1000000000, 'big') }}", "text"),
        ("{{ 10 ** 100000 }}", "number"),
        ("{% set s = 'x' * 1000000 %}{{ s ~ s }}", "text"),
        ("{% set s = 'x' * 1000000 %}{{ [s, s] }}", "text"),
        ("{% set s = 'x' * 1000000 %}{{ [s, s]|string }}", "text"),
        ("{% set s = 'x' * 1000000 %}{{ ([s] * 100)|join }}", "text"),
        ("{% set s = 'x' * 1000000 %}{{ '%s%s' % (s, s) }}", "text"),
        ("{% set s = 'x' * 1000000 %}{% for i in range(100) %}{{ s }}{% endfor %}", "output"),
        ("{% set s = 'x' * 1000000 %}{{ [s, s]|md }}", "text"),
        ("{{ records[0]|md(1000000000) }}", None),
        ("{{ [[0] * 1000] * 1000 }}", "items"),
        ("{{ range(100000)|map('center', 1000000)|unique|list|length }}", "produced"),
        (
            "{% set ns = namespace(l=[0]) %}{% for i in range(60) %}"
            "{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l == ns.l }}",
            "items",
        ),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(60) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "text",
        ),
        ("{{ 'x'.encode() }}", None),
    ],
)
def test_other_ways_to_build_something_huge_are_refused_too(store, org, session_id, source, budget):
    with peak_memory() as peak, pytest.raises(RenderError) as caught:
        render_with(store, org, session_id, source)
    cause = caught.value.__cause__
    if budget is None:
        assert "tried something not allowed" in str(caught.value)
    else:
        assert isinstance(cause, BudgetExceeded)
        assert cause.budget == budget
    # Many strings of a megabyte each, kept or printed, are stopped by the budget of all
    # that is produced or of output; otherwise a string of a megabyte or two is all there is.
    ceiling = {"produced": TEMPLATE_MAX_PRODUCED * 2, "output": TEMPLATE_MAX_OUTPUT * 2}
    assert peak[0] < ceiling.get(budget, ALLOCATED_AT_MOST * 2)


@pytest.fixture
def small_budget(monkeypatch):
    """A render budget of 100,000 steps: recursion stops in milliseconds, not seconds."""
    monkeypatch.setattr(
        templates.render, "TEMPLATE_LIMITS", TEMPLATE_LIMITS._replace(steps=100_000)
    )


@pytest.mark.parametrize(
    "source",
    [
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
        "{% if records %}{% include 'part.md.j2' %}{% endif %}",
        "{% for r in records recursive %}{{ loop([r, r]) }}{% endfor %}",
    ],
    ids=["macro", "include", "recursive loop"],
)
def test_recursion_that_branches_is_stopped_by_the_step_budget(
    store, org, session_id, small_budget, source
):
    (org / "part.md.j2").write_text("{% include 'part.md.j2' %}{% include 'part.md.j2' %}")
    with pytest.raises(RenderError) as caught:
        render_with(store, org, session_id, source)
    assert isinstance(caught.value.__cause__, BudgetExceeded | RecursionError)


def test_a_template_within_its_budgets_renders(store, org, session_id):
    source = (
        "{{ ('x' * " + str(TEMPLATE_MAX_TEXT) + ")|length }} "
        "{% for a in range(300) %}{% for b in range(300) %}{% endfor %}{% endfor %}"
        "{{ (range(90000)|list)[-1] }}"
    )
    assert render_with(store, org, session_id, source) == f"{TEMPLATE_MAX_TEXT} 89999"


def test_a_template_one_character_over_its_budget_is_refused(store, org, session_id):
    with pytest.raises(RenderError, match="1,000,001 characters; at most 1,000,000 allowed"):
        render_with(store, org, session_id, "{{ 'x' * " + str(TEMPLATE_MAX_TEXT + 1) + " }}")


# -- ordinary templates are unchanged ----------------------------------------------------------


ORDINARY = [
    "{{ 'a' ~ 1 ~ none }} {{ 3 * 'ab' }} {{ [1] * 3 }} {{ 2 ** 10 }} {{ 7 * 6 }} {{ 1 + 2 }}",
    "{{ 'x' + 'y' }} {{ [1] + [2] }} {{ (1, 2) + (3,) }} {{ 7 % 3 }} {{ '%s-%03d' % ('a', 5) }}",
    "{{ '%(a)s' % {'a': x} }} {{ '{} {:>4} {x}'.format(1, 'b', x=x) }} {{ '{a}'.format_map({'a': 2}) }}",
    "{{ x|center(9) }}|{{ 'a\nb'|indent(2, true) }}|{{ 'one two three'|wordwrap(4) }}",
    "{{ items|join(', ') }} {{ items|list }} {{ items|batch(2)|list }} {{ items|slice(2)|list }}",
    "{{ items|sum }} {{ [[1], [2]]|sum(start=[]) }} {{ items|reverse|list }} {{ items|sort }}",
    "{{ items|unique|list }} {{ people|groupby('age')|list }} {{ people|map(attribute='n')|join }}",
    "{{ 'a <b>'|e }} {{ x|replace('l', 'L') }} {{ x|truncate(9) }} {{ x|title }} {{ x|upper }}",
    "{{ {'b': 1, 'a': 2}|dictsort }} {{ {'a': 1}|tojson }} {{ {'a': 1}|xmlattr }} {{ x|pprint }}",
    "{{ '%.2f'|format(3.14159) }} {{ 'see http://x.org'|urlize }} {{ 'a b c'|wordcount }}",
    "{% for i in items %}{{ loop.index }}/{{ loop.length }}{{ loop.cycle('a', 'b') }} {% endfor %}",
    "{% for a, b in pairs %}{{ a }}{{ b }}{% else %}none{% endfor %}{% for i in [] %}{% else %}-{% endfor %}",
    "{% for p in tree recursive %}{{ p.n }}({{ loop(p.kids) }}){% endfor %}",
    "{% macro m(a, b=2) %}{{ a }}{{ b }}{{ caller() if caller is defined }}{% endmacro %}{{ m(1) }}"
    "{% call m(3) %}in{% endcall %}",
    "{% set ns = namespace(t=0) %}{% for i in range(5) %}{% set ns.t = ns.t + i %}{% endfor %}{{ ns.t }}",
    "{% set c = [x, 1] %}{{ c }} {{ {'k': x} }} {{ (x, x)|length }} {% set y %}{{ x }}!{% endset %}{{ y }}",
    "{{ x.split('l') }} {{ x.replace('l', '') }} {{ '-'.join(items|map('string')) }} {{ x.zfill(8) }}",
    "{% filter upper %}{{ x }}{% endfilter %} {{ x is lower }} {{ 3 is divisibleby 3 }} {{ x[1:3] }}",
    "{{ lipsum(2, false, 3, 5)|wordcount > 0 }} {{ range(3)|list }} {{ dict(a=1) }} {{ x|string }}",
]


@pytest.mark.parametrize("autoescape", [False, True])
@pytest.mark.parametrize("source", ORDINARY)
def test_ordinary_templates_render_exactly_as_plain_jinja_renders_them(source, autoescape):
    context = {
        "x": "hello",
        "items": [3, 1, 2, 3],
        "pairs": [(1, "a"), (2, "b")],
        "people": [{"n": "A", "age": 3}, {"n": "B", "age": 3}],
        "tree": [{"n": 1, "kids": [{"n": 2, "kids": []}]}],
    }
    options = {"undefined": StrictUndefined, "autoescape": autoescape}
    plain = ImmutableSandboxedEnvironment(**options)
    ours = Sandbox(TEMPLATE_LIMITS, **options)
    expected = plain.from_string(source).render(context)
    if "lipsum" not in source:  # lorem ipsum is random
        assert ours.from_string(source).render(context) == expected
    else:
        assert ours.from_string(source).render(context).split()[0] == expected.split()[0]


def test_conditions_evaluate_as_before():
    for source, expected in [
        ("answers.a and answers.a >= 3", True),
        ("answers.b is not defined", True),
        ("'wor' in answers.w", True),
        ("(answers.w ~ '!')|length == 6", True),
        ("answers.list|select('odd')|list == [1, 3]", True),
        ("answers.a * 2 == 8 and '%s' % answers.a == '4'", True),
        ("answers.missing.deeper", False),
    ]:
        variables = {"answers": {"a": 4, "w": "words", "list": [1, 2, 3]}, "case": {}}
        assert compile_condition(source)(variables) is expected, source


def test_a_render_outside_any_meter_still_has_its_budgets():
    env = Sandbox(EXPRESSION_LIMITS, undefined=ChainableUndefined)
    with pytest.raises(BudgetExceeded):
        env.from_string(NESTED_LOOPS).render()


def test_the_compiler_does_not_fold_a_huge_constant():
    env = Sandbox(TEMPLATE_LIMITS)
    with peak_memory() as peak:
        template = env.from_string("{{ 'x'|center(150000000) }}")  # folded at compile time?
    assert peak[0] < ALLOCATED_AT_MOST
    with pytest.raises(BudgetExceeded):
        template.render()


# -- the loader ------------------------------------------------------------------------------


def test_the_loader_refuses_an_expression_over_its_budget_whatever_the_answers():
    text = flow_yaml(
        f"""
        - id: a
          type: yesno
          prompt: {{en: "A?"}}
          when: "{REPEAT}"
        - id: b
          type: yesno
          prompt: {{en: "{NESTED_LOOPS}"}}
        - id: c
          type: yesno
          prompt: {{en: "C {{{{ answers.a }}}}"}}
          when: "answers.a and ({CENTER})"
        """
    )
    with pytest.raises(FlowError) as caught:
        parse_flow(text, "heavy.yaml")
    found = [(p.code, p.line) for p in caught.value.problems]
    assert found == [(Code.EXPRESSION_BUDGET, 13), (Code.EXPRESSION_BUDGET, 16)]
    assert "a repeated text of 100,000,000 characters" in str(caught.value.problems[0])


def test_flows_validate_names_the_line_of_an_exhausting_expression(tmp_path, capsys):
    path = tmp_path / "heavy.yaml"
    path.write_text(condition_flow(PRINTF), encoding="utf-8")
    assert main(["flows", "validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:11: this expression goes over the sandbox's budget whatever the answers" in out
