"""The terminal channel: the same interview as on Telegram, as numbered text.

On a terminal it is a friendly conversation; when stdin is not a terminal it reads one answer
per line, so an interview can be scripted. Each prompt is printed (and flushed) only after
the previous answer is committed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TextIO

from casework.interviews import Interviews, Opened
from flows.engine import Prompt, Reply, Turn, command_help
from flows.messages import say


class Console:
    """Renders prompts as text and reads replies line by line."""

    def __init__(self, out: TextIO, interactive: bool) -> None:
        self.out = out
        self.interactive = interactive
        self._stage: str | None = None

    def write(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def show(self, turn: Turn, lang: str) -> None:
        if turn.accepted and self.interactive:
            self.write(f"  ✓ {turn.accepted}")
        if turn.error:
            self.write(f"! {turn.error}")
        for notice in turn.notices:
            self.write(notice)
        if turn.prompt:
            self.show_prompt(turn.prompt, lang)

    def show_prompt(self, prompt: Prompt, lang: str) -> None:
        if prompt.kind == "review":
            self._stage = None
            self.write()
            self.write(prompt.text)
            for entry in prompt.review:
                indent = "     ↳ " if entry.probe else f"  {entry.number:>2}. "
                number = f"({entry.number}) " if entry.probe else ""
                self.write(f"{indent}{number}{entry.label}: {entry.answer}")
            if prompt.help:
                self.write(prompt.help)
            self._commands(prompt, lang)
            return
        if prompt.stage_id != self._stage:
            self._stage = prompt.stage_id
            self.write()
            self.write(f"── {prompt.stage_title} ──")
            if prompt.stage_intro:
                self.write(prompt.stage_intro)
        progress = f"[{prompt.position}/{prompt.total}] " if prompt.kind == "question" else ""
        self.write(f"{progress}{prompt.text}")
        if prompt.help:
            self.write(f"  ({prompt.help})")
        for key, (_value, label) in zip(prompt.keys, prompt.options, strict=True):
            self.write(f"  {key}. {label}")
        if prompt.type == "multi":
            self.write("  " + say("choose_many", lang))
        if prompt.current:
            self.write(f"  {prompt.current}  ⏎")
        elif prompt.last_time:
            self.write(f"  {prompt.last_time}  ⏎")
        if prompt.kind == "note":
            self.write(f"  ⏎ {say('continue', lang)}")
        self._commands(prompt, lang)

    def _commands(self, prompt: Prompt, lang: str) -> None:
        shown = command_help(lang, prompt.commands)
        if shown:
            self.write("  " + " · ".join(f"{cmd} {what}" for cmd, what in shown))


def _lines(stream: TextIO, interactive: bool) -> Iterator[str]:
    while True:
        if interactive:
            try:
                line = input("> ")
            except EOFError:
                return
        else:
            raw = stream.readline()
            if not raw:
                return
            line = raw.rstrip("\r\n")
        yield line


def run_console(
    interviews: Interviews,
    opened: Opened,
    person_id: int,
    db_path: str,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
) -> int:
    """Drive one session to its end (or to the end of input). Returns an exit code."""
    interactive = stdin.isatty() and stdout.isatty()
    console = Console(stdout, interactive)
    session = opened.session
    lang = session.lang
    if opened.resumed:
        console.write(f"(session {session.id})")
    else:
        title = opened.engine.flow.text(opened.engine.flow.title, lang)
        console.write(f"{title}  (session {session.id})")
    console.show(opened.turn, lang)
    turn = opened.turn
    try:
        for line in _lines(stdin, interactive):
            turn = interviews.reply(session.id, person_id, Reply(text=line))
            console.show(turn, lang)
            if turn.status in ("completed", "cancelled", "paused"):
                break
    except KeyboardInterrupt:
        console.write()
    if turn.status == "completed":
        console.write(f"Stored in {db_path}, session {session.id}.")
    elif turn.status != "cancelled":
        console.write(f"Saved in {db_path}. Run the same command again to carry on.")
    return 0
