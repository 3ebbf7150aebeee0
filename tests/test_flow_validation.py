"""A broken flow file gets every problem at once, each with its line and a fix."""

from __future__ import annotations

import textwrap

import pytest

from bot.cli import main
from flows.compile import compile_flow
from flows.load import bundled_flow_paths, load_flow, parse_flow
from flows.problems import Code, FlowError


def problems(text: str) -> list[tuple[Code, int]]:
    with pytest.raises(FlowError) as caught:
        parse_flow(textwrap.dedent(text), "broken.yaml", instruments=set())
    return [(p.code, p.line) for p in caught.value.problems]


HEADER = """\
id: t
version: 1
title: {en: T, zh: T}
respondent: caregiver
languages: [en, zh]
stages:
  - id: s1
    title: {en: S, zh: S}
    items:
"""


@pytest.mark.parametrize("path", bundled_flow_paths(), ids=lambda p: p.stem)
def test_every_bundled_flow_validates_and_compiles_in_english_and_chinese(path):
    flow = load_flow(path)
    assert {"en", "zh"} <= set(flow.languages)
    assert compile_flow(flow).questions


def test_all_problems_in_a_file_are_reported_at_once_with_their_lines():
    found = problems(
        HEADER
        + """\
      - id: mood
        type: slider
        prompt: {en: "How?", zh: 怎么样？}
      - id: sleep
        type: choice
        prompt: {en: "Sleep?"}
        options:
          - {value: a, label: {en: A, zh: 甲}}
          - {value: b, label: {en: B, zh: 乙}}
      - id: sleep
        type: yesno
        prompt: {en: "Again?", zh: 又？}
        colour: red
"""
    )
    assert (Code.UNKNOWN_TYPE, 11) in found  # on the `type:` line
    assert (Code.MISSING_TRANSLATION, 15) in found
    assert (Code.DUPLICATE_ID, 19) in found
    assert (Code.UNKNOWN_FIELD, 22) in found


def test_yaml_syntax_error_names_the_line():
    found = problems("id: t\nversion: 1\nstages:\n  - id: [unclosed\n")
    assert found[0][0] is Code.YAML_SYNTAX
    assert found[0][1] >= 4


def test_a_file_that_is_not_a_mapping_is_refused():
    assert problems("- just\n- a list\n") == [(Code.NOT_A_MAPPING, 1)]


def test_missing_required_field_is_reported_where_it_belongs():
    found = problems(HEADER + "      - id: q\n        type: yesno\n")
    assert found == [(Code.MISSING_FIELD, 10)]


def test_condition_on_a_later_item_is_a_forward_reference():
    found = problems(
        HEADER
        + """\
      - id: a
        type: yesno
        prompt: {en: "A?", zh: 甲？}
        when: "answers.b"
      - id: b
        type: yesno
        prompt: {en: "B?", zh: 乙？}
"""
    )
    assert found == [(Code.FORWARD_REFERENCE, 13)]


def test_condition_on_an_unknown_item_and_a_bad_expression_are_both_reported():
    found = problems(
        HEADER
        + """\
      - id: a
        type: yesno
        prompt: {en: "A?", zh: 甲？}
      - id: b
        type: yesno
        prompt: {en: "B {{ answers.nope }}", zh: 乙？}
        when: "answers.a and ("
"""
    )
    assert (Code.UNKNOWN_REFERENCE, 15) in found
    assert (Code.EXPRESSION_SYNTAX, 16) in found


def test_scale_problems_anchor_range_and_faces_size():
    found = problems(
        HEADER
        + """\
      - id: a
        type: scale
        style: faces
        min: 0
        max: 10
        prompt: {en: "A?", zh: 甲？}
        anchors:
          11: {en: Top, zh: 顶}
"""
    )
    assert (Code.FACES_SIZE, 12) in found
    assert (Code.ANCHOR_OUT_OF_RANGE, 17) in found


def test_reserved_state_names_and_duplicate_option_values_are_refused():
    found = problems(
        HEADER
        + """\
      - id: review
        type: choice
        prompt: {en: "A?", zh: 甲？}
        options:
          - {value: x, label: {en: X, zh: 叉}}
          - {value: x, label: {en: Y, zh: 歪}}
"""
    )
    assert (Code.RESERVED_ID, 10) in found
    assert (Code.DUPLICATE_OPTION, 13) in found


def test_unknown_instrument_is_reported():
    with pytest.raises(FlowError) as caught:
        parse_flow(
            HEADER.replace("    items:\n", "    instrument: nope\n"), "x.yaml", instruments={"phq9"}
        )
    assert [p.code for p in caught.value.problems] == [Code.UNKNOWN_INSTRUMENT]


def test_python_tags_in_yaml_are_refused_not_executed():
    found = problems("id: !!python/object/apply:os.system ['echo hi']\n")
    assert found[0][0] is Code.YAML_SYNTAX


def test_problem_text_says_file_line_what_and_how_to_fix():
    with pytest.raises(FlowError) as caught:
        parse_flow(HEADER + "      - id: a\n        type: yesno\n", "f.yaml", instruments=set())
    text = str(caught.value.problems[0])
    assert text.startswith("f.yaml:10: 'prompt' is required here")
    assert "fix:" in text


def test_flows_validate_command_prints_problems_and_exits_non_zero(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        HEADER
        + "      - id: a\n        type: nope\n        prompt: {en: A}\n"
        + "      - id: b\n        type: yesno\n        prompt: {en: B}\n"
    )
    assert main(["flows", "validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:11: 'nope' is not an item type" in out
    assert f"{bad}:15: this text has no 'zh' version" in out


def test_flows_validate_command_accepts_the_bundled_flows(capsys):
    assert main(["flows", "validate"]) == 0
    assert "child_checkin" in capsys.readouterr().out


def test_references_in_probe_prompts_and_stage_intros_are_checked():
    found = problems(
        HEADER.replace(
            "    items:\n", '    intro: {en: "Hi {{ answers.a }}", zh: 你好}\n    items:\n'
        )
        + """\
      - id: a
        type: text
        prompt: {en: A, zh: 甲}
        probes:
          - id: p
            prompt: {en: "About {{ answers.zz }}", zh: 关于}
"""
    )
    assert (Code.FORWARD_REFERENCE, 9) in found
    assert (Code.UNKNOWN_REFERENCE, 16) in found


def test_yes_no_labels_exclusive_options_and_deadlines_are_checked_at_their_lines():
    found = problems(
        HEADER
        + """\
      - id: went_out
        type: yesno
        prompt: {en: "Out?", zh: 出门了吗？}
        labels:
          yes: {en: Went out, zh: 出过门}
          no: {en: Went out, zh: 没出门}
      - id: phone
        type: yesno
        prompt: {en: "Phone?", zh: 打电话了吗？}
        labels:
          yes: {en: Called}
          no: {en: No call, zh: 没打}
      - id: sleep
        type: choice
        prompt: {en: "Sleep?", zh: 睡眠？}
        options:
          - {value: a, label: {en: A, zh: 甲}}
          - {value: b, label: {en: B, zh: 乙}, exclusive: true}
      - id: who
        type: multi
        prompt: {en: "Who?", zh: 谁？}
        validation: {min: 2}
        options:
          - {value: son, label: {en: Son, zh: 儿子}}
          - {value: nobody, label: {en: Nobody, zh: 谁也没有}, exclusive: true}
      - id: by_when
        type: date
        deadline: true
        prompt: {en: "By when?", zh: 什么时候？}
        validation:
          not_future: true
      - id: story
        type: text
        deadline: true
        prompt: {en: "Story?", zh: 说说？}
"""
    )
    assert (Code.SAME_YESNO_LABELS, 15) in found  # the no label that repeats the yes label
    assert (Code.MISSING_TRANSLATION, 20) in found  # `yes:` is read as the word yes
    assert (Code.EXCLUSIVE_NOT_MULTI, 27) in found
    assert (Code.EXCLUSIVE_MIN, 34) in found
    assert (Code.DEADLINE_NOT_FUTURE, 40) in found
    assert (Code.UNKNOWN_FIELD, 43) in found
    assert len(found) == 6


def test_a_multi_whose_every_option_is_exclusive_should_be_a_choice():
    found = problems(
        HEADER
        + """\
      - id: who
        type: multi
        prompt: {en: "Who?", zh: 谁？}
        options:
          - {value: a, label: {en: A, zh: 甲}, exclusive: true}
          - {value: b, label: {en: B, zh: 乙}, exclusive: true}
"""
    )
    assert found == [(Code.ALL_EXCLUSIVE, 13)]


def test_yes_and_no_keys_in_a_flow_are_words_not_booleans():
    flow = parse_flow(
        textwrap.dedent(
            HEADER
            + """\
      - id: went_out
        type: yesno
        prompt: {en: "Out?", zh: 出门了吗？}
        labels: {yes: {en: Went out, zh: 出过门}, no: {en: Stayed in, zh: 没出门}}
"""
        ),
        "ok.yaml",
        instruments=set(),
    )
    labels = flow.stages[0].items[0].labels
    assert (labels.yes["zh"], labels.no["zh"]) == ("出过门", "没出门")
