"""A fake Telegram Bot API server on 127.0.0.1 for tests and benchmarks.

The real python-telegram-bot ``Application`` talks to it over HTTP exactly as it talks to
``api.telegram.org``::

    async with FakeTelegram() as server:
        app = server.application_builder().build()      # token, base_url, base_file_url set
        app.add_handler(...)
        async with polling(app):
            li = server.user(1001, first_name="Li", language_code="zh")
            li.send_command("/start")
            reply = await li.wait_reply()
            li.press("Yes")
            await server.wait_until_idle()
        assert server.messages_to(li.id)[-1].text == "..."

What it does:

- HTTP/1.1 on ``asyncio.start_server`` (keep-alive, Content-Length and chunked bodies); the
  parameters may come as a query string, JSON, form-urlencoded or multipart/form-data, and
  nested fields (``reply_markup``, ``allowed_updates``, ``commands``) as JSON or as a JSON
  string inside a form field, the way PTB sends them.
- The Bot API's JSON shapes (``{"ok": true, "result": ...}`` / ``{"ok": false, "error_code",
  "description"[, "parameters"]}``), its ``getUpdates`` offset/limit/timeout semantics, and its
  limits with its own error texts: text 1-4096 UTF-16 code units after entity parsing, captions
  <= 1024, ``callback_data`` 1-64 bytes, HTML / MarkdownV2 / Markdown parsing errors ported
  from TDLib's parsers, "message is not modified", "message to edit not found", ...
- Scripted users (:class:`FakeUser`) who send text, commands, voice, stickers, photos,
  documents and locations, press inline buttons and tap reply-keyboard buttons.
- Observation: :meth:`FakeTelegram.messages_to` (edits applied, history kept),
  :meth:`FakeTelegram.wait_for` and :meth:`FakeTelegram.wait_until_idle` (bounded; on time-out
  they raise :class:`WaitTimeout` with the chat's transcript and the bot's failed calls).
- Fault injection: 429 with ``retry_after``, any status (502), a TCP reset, a delay; a switch
  that holds ``getUpdates``; per-method call counters.
- Its own cost: ``server.stats.busy_seconds / server.stats.requests`` is the time spent in the
  server's request code (parsing, handling, serialising), for a benchmark to subtract. The
  asyncio streams around it cost about as much again: on the 2-core dev/CI machine a
  sendMessage with HTML and an inline keyboard takes ~125 us of handler code and ~250-340 us
  of the server process's CPU in all, against ~2.5 ms of PTB/httpx CPU per update on the bot's
  side (PTB sequential updates, one process: ~350 updates/s end to end).

Everything runs on the event loop that started the server: the user and fault methods are
plain (synchronous) methods to be called from that loop's thread. No pytest import here, so
benchmarks can use it too. The fake never fetches anything from the network: an HTTP URL given
as a file is refused as Telegram refuses one it cannot download.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import itertools
import json
import os
import re
import socket
import struct
import time
import urllib.parse
import zlib
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from telegram.ext import Application
    from telegram.ext._applicationbuilder import InitApplicationBuilder

JSON = dict[str, Any]

DEFAULT_TOKEN = "123456789:AAFakeTokenForCaseflowTests_0123456789"

MAX_TEXT = 4096  # UTF-16 code units, after entity parsing
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes, UTF-8
MAX_UPLOAD = 50 * 1024 * 1024
MAX_DOWNLOAD = 20 * 1024 * 1024
MAX_COMMANDS = 100

# Update types a bot receives when allowed_updates was never given (or given empty).
DEFAULT_ALLOWED_UPDATES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
INLINE_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


class ApiError(Exception):
    """An error answer of the Bot API: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(
        self,
        status: int,
        description: str,
        parameters: JSON | None = None,
        *,
        abandoned: bool = False,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters
        self.abandoned = abandoned  # the client had already gone: not worth reporting

    def payload(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


class WaitTimeout(AssertionError):
    """A bounded wait ran out; the message tells what the fake saw."""


# --------------------------------------------------------------------------------------------
# Text: UTF-16 lengths and the three parse modes (ported from TDLib's MessageEntity.cpp)
# --------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits and entity offsets."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


class _EntityError(Exception):
    pass


_TRIM = " \t\n\r\v\f"
_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_HTML_SPECIAL = re.compile(r"[<&]")
_HTML_SPACE = frozenset(" \t\r\n\v\f\0")  # TDLib's is_space() is true for NUL too
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
}


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_html_entity(src: str, pos: int) -> tuple[str | None, int]:
    """``&lt;`` ``&gt;`` ``&amp;`` ``&quot;`` and numeric references; anything else is text."""
    n = len(src)
    end = pos + 1
    code = 0
    if end < n and src[end] == "#":
        end += 1
        if end < n and src[end] == "x":
            end += 1
            while end < n and src[end] in "0123456789abcdefABCDEF":
                code = code * 16 + int(src[end], 16)
                end += 1
        else:
            while end < n and src[end].isascii() and src[end].isdigit():
                code = code * 10 + int(src[end])
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None, pos
        char = chr(code)
    else:
        while end < n and src[end].isascii() and src[end].isalpha():
            end += 1
        named = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}.get(src[pos + 1 : end])
        if named is None:
            return None, pos
        char = named
    if end < n and src[end] == ";":
        end += 1
    return char, end


def parse_html(src: str) -> tuple[str, list[JSON]]:
    """Telegram's ``parse_mode=HTML``: the plain text and its entities, or ``_EntityError``."""
    n = len(src)

    def at(k: int) -> str:
        return src[k] if k < n else "\0"

    out: list[str] = []
    u16 = 0
    entities: list[JSON] = []
    stack: list[tuple[str, str, int, int]] = []  # tag, argument, utf16 offset, index in out
    i = 0
    while i < n:
        match = _HTML_SPECIAL.search(src, i)
        stop = match.start() if match else n
        if stop > i:
            chunk = src[i:stop]
            out.append(chunk)
            u16 += utf16_len(chunk)
            i = stop
            continue
        if src[i] == "&":
            char, end = _decode_html_entity(src, i)
            if char is None:
                out.append("&")
                u16 += 1
                i += 1
            else:
                out.append(char)
                u16 += utf16_len(char)
                i = end
            continue
        begin = i
        i += 1
        if at(i) != "/":
            while at(i) not in _HTML_SPACE and at(i) != ">":
                i += 1
            if i >= n:
                raise _EntityError(f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")
            tag = src[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise _EntityError(
                    f'Unsupported start tag "{tag}" at byte offset {_byte_offset(src, begin)}'
                )
            argument = ""
            while at(i) != ">":
                while i < n and at(i) in _HTML_SPACE:
                    i += 1
                if at(i) == ">":
                    break
                name_begin = i
                while at(i) not in _HTML_SPACE and at(i) not in "=>":
                    i += 1
                name = src[name_begin:i]
                if not name:
                    raise _EntityError(
                        f'Empty attribute name in the tag "{tag}" at byte offset '
                        f"{_byte_offset(src, begin)}"
                    )
                while i < n and at(i) in _HTML_SPACE:
                    i += 1
                if at(i) != "=":
                    if tag == "blockquote" and name.lower() == "expandable":
                        argument = "expandable"
                        continue
                    raise _EntityError(
                        f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                        f"at byte offset {_byte_offset(src, begin)}"
                    )
                i += 1
                while i < n and at(i) in _HTML_SPACE:
                    i += 1
                if i >= n:
                    raise _EntityError(
                        f'Unclosed start tag "{tag}" at byte offset {_byte_offset(src, begin)}'
                    )
                if at(i) not in "'\"":
                    token_begin = i
                    while at(i).isascii() and (at(i).isalnum() or at(i) in ".-"):
                        i += 1
                    value = src[token_begin:i].lower()
                    if at(i) not in _HTML_SPACE and at(i) != ">":
                        raise _EntityError(
                            "Unexpected end of name token at byte offset "
                            f"{_byte_offset(src, token_begin)}"
                        )
                else:
                    quote = src[i]
                    i += 1
                    chars: list[str] = []
                    while i < n and src[i] != quote:
                        if src[i] == "&":
                            char, end = _decode_html_entity(src, i)
                            if char is not None:
                                chars.append(char)
                                i = end
                                continue
                        chars.append(src[i])
                        i += 1
                    if i < n:
                        i += 1
                    value = "".join(chars)
                if i >= n:
                    raise _EntityError(
                        f"Unclosed start tag at byte offset {_byte_offset(src, begin)}"
                    )
                lowered = name.lower()
                if (tag == "a" and lowered == "href") or (
                    tag == "tg-emoji" and lowered == "emoji-id"
                ):
                    argument = value
                elif tag == "code" and lowered == "class" and value.startswith("language-"):
                    argument = value[9:]
                elif tag == "span" and lowered == "class" and value.startswith("tg-"):
                    argument = value[3:]
            if tag == "span" and argument != "spoiler":
                raise _EntityError(
                    'Tag "span" must have class "tg-spoiler" at byte offset '
                    f"{_byte_offset(src, begin)}"
                )
            stack.append((tag, argument, u16, len(out)))
            i += 1
            continue
        # an end tag
        if not stack:
            raise _EntityError(f"Unexpected end tag at byte offset {_byte_offset(src, begin)}")
        while at(i) not in _HTML_SPACE and at(i) != ">":
            i += 1
        end_name = src[begin + 2 : i].lower()
        while i < n and at(i) in _HTML_SPACE:
            i += 1
        if at(i) != ">":
            raise _EntityError(f"Unclosed end tag at byte offset {_byte_offset(src, begin)}")
        tag, argument, start, out_index = stack.pop()
        if end_name and end_name != tag:
            raise _EntityError(
                f'Unmatched end tag at byte offset {_byte_offset(src, begin)}, expected "</{tag}>", '
                f'found "</{end_name}>"'
            )
        i += 1
        length = u16 - start
        if length <= 0:
            continue
        entity: JSON = {"offset": start, "length": length}
        if tag in _SIMPLE_TAGS or tag == "span":
            entity["type"] = _SIMPLE_TAGS.get(tag, "spoiler")
        elif tag == "tg-emoji":
            if not argument.isdigit() or int(argument) == 0:
                raise _EntityError("Invalid custom emoji identifier specified")
            entity.update(type="custom_emoji", custom_emoji_id=argument)
        elif tag == "a":
            url = argument or "".join(out[out_index:])
            if not url:
                continue
            entity.update(type="text_link", url=url)
        elif tag == "pre":
            previous = entities[-1] if entities else None
            if (
                previous is not None
                and previous["type"] == "code"
                and previous["offset"] == start
                and previous["length"] == length
                and previous.get("language")
            ):
                previous["type"] = "pre"
                continue
            entity["type"] = "pre"
        elif tag == "code":
            previous = entities[-1] if entities else None
            if (
                previous is not None
                and previous["type"] == "pre"
                and previous["offset"] == start
                and previous["length"] == length
                and argument
            ):
                previous["language"] = argument
                continue
            entity["type"] = "code"
            if argument:
                entity["language"] = argument  # dropped below unless a <pre> claims it
        else:  # blockquote
            entity["type"] = "expandable_blockquote" if argument else "blockquote"
        entities.append(entity)
    if stack:
        raise _EntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    return "".join(out), entities


_MDV2_SPECIAL = re.compile(r"[\\_*\[\]()~`>#+\-=|{}.!\n]")
_MDV2_CODE_SPECIAL = re.compile(r"[\\`]")
_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!\n")
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
}


def _reserved(char: str) -> _EntityError:
    return _EntityError(
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    )


def parse_markdown_v2(src: str) -> tuple[str, list[JSON]]:
    """Telegram's ``parse_mode=MarkdownV2``: the plain text and its entities."""
    n = len(src)

    def at(k: int) -> str:
        return src[k] if k < n else "\0"

    out: list[str] = []
    u16 = 0
    entities: list[JSON] = []
    # type, argument, utf16 offset, char index of the markup, index in out
    stack: list[tuple[str, str, int, int, int]] = []
    have_blockquote = False
    i = 0
    while i < n:
        c = src[i]
        if c == "\\" and 0 < ord(at(i + 1)) <= 126:
            out.append(src[i + 1])
            u16 += 1
            i += 2
            continue
        in_code = bool(stack) and stack[-1][0] in ("code", "pre")
        if (c != "`") if in_code else (c not in _MDV2_RESERVED):
            # a run of plain characters (a backslash that escapes nothing is plain)
            pattern = _MDV2_CODE_SPECIAL if in_code else _MDV2_SPECIAL
            match = pattern.search(src, i + 1)
            stop = match.start() if match else n
            chunk = src[i:stop]
            out.append(chunk)
            u16 += utf16_len(chunk)
            i = stop
            continue
        is_end = False
        if stack:
            top = stack[-1][0]
            if have_blockquote and c == "\n" and (i + 1 == n or src[i + 1] != ">"):
                is_end = True
            elif top == "bold":
                is_end = c == "*"
            elif top == "italic":
                is_end = c == "_" and at(i + 1) != "_"
            elif top == "code":
                is_end = c == "`"
            elif top == "pre":
                is_end = c == "`" and at(i + 1) == "`" and at(i + 2) == "`"
            elif top in ("text_link", "custom_emoji"):
                is_end = c == "]"
            elif top == "underline":
                is_end = c == "_" and at(i + 1) == "_"
            elif top == "strikethrough":
                is_end = c == "~"
            elif top == "spoiler":
                is_end = c == "|" and at(i + 1) == "|"
        if not is_end:
            begin = i
            argument = ""
            kind: str | None
            if c == "_":
                if at(i + 1) == "_":
                    kind = "underline"
                    i += 1
                else:
                    kind = "italic"
            elif c == "*":
                kind = "bold"
            elif c == "~":
                kind = "strikethrough"
            elif c == "|":
                if at(i + 1) != "|":
                    raise _reserved(c)
                kind = "spoiler"
                i += 1
            elif c == "[":
                kind = "text_link"
            elif c == "`":
                if at(i + 1) == "`" and at(i + 2) == "`":
                    i += 3
                    kind = "pre"
                    language_end = i
                    while at(language_end) not in _HTML_SPACE and at(language_end) != "`":
                        language_end += 1
                    if i != language_end and language_end < n and src[language_end] != "`":
                        argument = src[i:language_end]
                        i = language_end
                    if at(i) in "\r\n":
                        if at(i + 1) in "\r\n" and at(i) != at(i + 1):
                            i += 2
                        else:
                            i += 1
                    stack.append((kind, argument, u16, begin, len(out)))
                    continue
                kind = "code"
            elif c == "!":
                if at(i + 1) != "[":
                    raise _reserved(c)
                kind = "custom_emoji"
                i += 1
            elif c == "\n":
                out.append("\n")
                u16 += 1
                kind = None
                if at(i + 1) == ">":
                    i += 1
                    if not have_blockquote:
                        kind = "blockquote"
                        have_blockquote = True
            elif c == ">":
                if i != 0:
                    raise _reserved(c)
                kind = "blockquote"
                have_blockquote = True
            else:
                raise _reserved(c)
            if kind is not None:
                stack.append((kind, argument, u16, begin, len(out)))
            i += 1
            continue
        # the end of an entity
        kind, argument, start, begin, out_index = stack[-1]
        if c == "\n" and kind != "blockquote":
            raise _EntityError(
                f"Can't find end of {_MDV2_NAMES[kind]} entity at byte offset "
                f"{_byte_offset(src, begin)}"
            )
        skip = u16 == start
        extra: JSON = {}
        if kind in ("underline", "spoiler"):
            i += 1
        elif kind == "pre":
            i += 2
            if argument:
                extra["language"] = argument
        elif kind in ("text_link", "custom_emoji"):
            if at(i + 1) != "(":
                if kind == "custom_emoji":
                    raise _EntityError("Custom emoji entity must contain a tg://emoji URL")
                url = "".join(out[out_index:])
            else:
                i += 2
                url_begin = i
                chars: list[str] = []
                while i < n and src[i] != ")":
                    if src[i] == "\\" and 0 < ord(at(i + 1)) <= 126:
                        chars.append(src[i + 1])
                        i += 2
                        continue
                    chars.append(src[i])
                    i += 1
                if at(i) != ")":
                    what = "a custom emoji URL" if kind == "custom_emoji" else "a URL"
                    raise _EntityError(
                        f"Can't find end of {what} at byte offset {_byte_offset(src, url_begin)}"
                    )
                url = "".join(chars)
            if kind == "custom_emoji":
                emoji_id = url.partition("tg://emoji?id=")[2]
                if not emoji_id.isdigit():
                    raise _EntityError("Custom emoji URL must have an emoji identifier")
                extra["custom_emoji_id"] = emoji_id
            elif url:
                extra["url"] = url
            else:
                skip = True
        elif kind == "blockquote":
            have_blockquote = False
            out.append(c)
            u16 += 1
        if not skip:
            entities.append({"offset": start, "length": u16 - start, "type": kind, **extra})
        stack.pop()
        i += 1
    if have_blockquote and stack and stack[-1][0] == "blockquote":
        _, _, start, _, _ = stack.pop()
        if u16 > start:
            entities.append({"type": "blockquote", "offset": start, "length": u16 - start})
    if stack:
        kind, _, _, begin, _ = stack[-1]
        raise _EntityError(
            f"Can't find end of {_MDV2_NAMES[kind]} entity at byte offset "
            f"{_byte_offset(src, begin)}"
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


_MD_SPECIAL = re.compile(r"[\\_*`\[]")


def parse_markdown(src: str) -> tuple[str, list[JSON]]:
    """Telegram's legacy ``parse_mode=Markdown``."""
    n = len(src)

    def at(k: int) -> str:
        return src[k] if k < n else "\0"

    out: list[str] = []
    u16 = 0
    entities: list[JSON] = []
    i = 0
    while i < n:
        c = src[i]
        if c == "\\" and at(i + 1) in "_*`[":
            out.append(src[i + 1])
            u16 += 1
            i += 2
            continue
        if c not in "_*`[":
            match = _MD_SPECIAL.search(src, i + 1)
            stop = match.start() if match else n
            chunk = src[i:stop]
            out.append(chunk)
            u16 += utf16_len(chunk)
            i = stop
            continue
        begin = i
        end_char = "]" if c == "[" else c
        is_pre = False
        language = ""
        i += 1
        if c == "`" and at(i) == "`" and at(i + 1) == "`":
            i += 2
            is_pre = True
            language_end = i
            while at(language_end) not in _HTML_SPACE and at(language_end) != "`":
                language_end += 1
            if i != language_end and language_end < n and src[language_end] != "`":
                language = src[i:language_end]
                i = language_end
            if at(i) in "\r\n":
                i += 2 if at(i + 1) in "\r\n" and at(i) != at(i + 1) else 1
        start = u16
        while i < n and (
            src[i] != end_char or (is_pre and not (at(i + 1) == "`" and at(i + 2) == "`"))
        ):
            out.append(src[i])
            u16 += utf16_len(src[i])
            i += 1
        if i >= n:
            raise _EntityError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(src, begin)}"
            )
        if u16 > start:
            entity: JSON = {"offset": start, "length": u16 - start}
            if c == "_":
                entity["type"] = "italic"
            elif c == "*":
                entity["type"] = "bold"
            elif c == "[":
                if at(i + 1) != "(":
                    url = src[begin + 1 : i]
                else:
                    i += 2
                    url_chars: list[str] = []
                    while i < n and src[i] != ")":
                        url_chars.append(src[i])
                        i += 1
                    url = "".join(url_chars)
                entity["type"] = "text_link"
                entity["url"] = url
            elif is_pre:
                entity["type"] = "pre"
                if language:
                    entity["language"] = language
            else:
                entity["type"] = "code"
            if entity["type"] != "text_link" or entity["url"]:
                entities.append(entity)
        if is_pre:
            i += 2
        i += 1
    return "".join(out), entities


def format_text(
    source: str, parse_mode: str | None, entities: Any = None
) -> tuple[str, list[JSON]]:
    """Apply ``parse_mode`` and trim as the Bot API does; raise :class:`ApiError` on bad markup."""
    mode = (parse_mode or "").lower()
    try:
        if mode == "html":
            text, found = parse_html(source)
        elif mode == "markdownv2":
            text, found = parse_markdown_v2(source)
        elif mode == "markdown":
            text, found = parse_markdown(source)
        elif mode == "":
            text = source
            found = [dict(e) for e in entities if isinstance(e, dict)] if entities else []
        else:
            raise bad_request("unsupported parse_mode")
    except _EntityError as exc:
        raise bad_request(f"can't parse entities: {exc}") from None
    stripped = text.strip(_TRIM)
    if stripped == text:
        return text, found
    lead = utf16_len(text[: len(text) - len(text.lstrip(_TRIM))])
    size = utf16_len(stripped)
    kept: list[JSON] = []
    for entity in found:
        start = max(0, entity["offset"] - lead)
        end = min(size, entity["offset"] + entity["length"] - lead)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


_COMMAND = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])")


def command_entities(text: str) -> list[JSON]:
    """The ``bot_command`` entities a Telegram client attaches to a message it sends."""
    return [
        {
            "offset": utf16_len(text[: m.start()]),
            "length": utf16_len(m.group()),
            "type": "bot_command",
        }
        for m in _COMMAND.finditer(text)
    ]


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Upload:
    """A file part of a multipart/form-data request."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(eq=False)
class StoredFile:
    """A file the fake knows: sent by a user or uploaded by the bot; served by ``getFile``."""

    file_id: str
    file_unique_id: str
    kind: str  # "voice", "photo", "document", "sticker"
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    duration: int | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def to_api(self) -> JSON:
        """The Voice / Document / PhotoSize / Sticker-like object (without kind-specific extras)."""
        obj: JSON = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.kind == "voice":
            obj["duration"] = self.duration or 0
        if self.kind == "document" and self.file_name is not None:
            obj["file_name"] = self.file_name
        if self.kind in ("voice", "document") and self.mime_type:
            obj["mime_type"] = self.mime_type
        if self.kind in ("photo", "sticker"):
            obj["width"] = self.width or 0
            obj["height"] = self.height or 0
        obj["file_size"] = self.size
        return obj


@dataclass(eq=False)
class MessageVersion:
    """One earlier state of an edited bot message."""

    text: str | None
    caption: str | None
    entities: list[JSON]
    source: str | None
    reply_markup: JSON | None
    date: int


@dataclass(eq=False)
class BotMessage:
    """A message the bot sent to a chat, with its edits applied and its history kept.

    ``text`` / ``caption`` are the plain text as a user sees it (markup parsed, trimmed);
    ``source`` is the string exactly as the bot sent it and ``parse_mode`` the mode it named.
    ``reply_markup`` is the markup as sent (inline keyboard, reply keyboard, remove, force reply);
    only inline keyboards are part of the Message object Telegram returns.
    """

    chat_id: int
    message_id: int
    date: int
    kind: str  # "text", "document", "photo", "voice"
    chat: JSON
    sender: JSON
    text: str | None = None
    caption: str | None = None
    entities: list[JSON] = field(default_factory=list)
    source: str | None = None
    parse_mode: str | None = None
    reply_markup: JSON | None = None
    media: Any = None  # the Document / Voice object, or the list of PhotoSize
    file: StoredFile | None = None
    edit_date: int | None = None
    history: list[MessageVersion] = field(default_factory=list)
    deleted: bool = False
    params: JSON = field(default_factory=dict)
    seq: int = 0

    @property
    def content(self) -> str:
        """The text, or the caption of a media message, or ``""``."""
        return self.text if self.text is not None else (self.caption or "")

    @property
    def inline_keyboard(self) -> list[list[JSON]]:
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            rows: list[list[JSON]] = self.reply_markup["inline_keyboard"]
            return rows
        return []

    @property
    def buttons(self) -> list[list[str]]:
        """The inline buttons' texts, row by row."""
        return [[str(b.get("text")) for b in row] for row in self.inline_keyboard]

    @property
    def callback_data(self) -> list[str]:
        """Every inline button's ``callback_data``, in reading order."""
        return [
            b["callback_data"] for row in self.inline_keyboard for b in row if "callback_data" in b
        ]

    @property
    def keyboard(self) -> list[list[str]]:
        """The reply keyboard's button texts, if this message set one."""
        if self.reply_markup and "keyboard" in self.reply_markup:
            return [[str(b.get("text")) for b in row] for row in self.reply_markup["keyboard"]]
        return []

    def button(self, key: str) -> JSON | None:
        """The inline button whose text or callback_data is ``key``."""
        for row in self.inline_keyboard:
            for b in row:
                if b.get("text") == key or b.get("callback_data") == key:
                    return b
        return None

    def to_api(self) -> JSON:
        """The Message object, as the Bot API returns it."""
        msg: JSON = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat,
            "date": self.date,
        }
        if self.edit_date is not None:
            msg["edit_date"] = self.edit_date
        if self.kind == "text":
            msg["text"] = self.text
            if self.entities:
                msg["entities"] = self.entities
        else:
            msg[self.kind] = self.media
            if self.caption is not None:
                msg["caption"] = self.caption
                if self.entities:
                    msg["caption_entities"] = self.entities
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            msg["reply_markup"] = self.reply_markup
        return msg

    def __repr__(self) -> str:
        extra = f" buttons={self.buttons}" if self.inline_keyboard else ""
        edits = f" edits={len(self.history)}" if self.history else ""
        return f"<BotMessage {self.chat_id}/{self.message_id} {self.kind} {self.content!r}{extra}{edits}>"


@dataclass(eq=False)
class ApiCall:
    """One request the bot made (uploads replaced by a summary)."""

    method: str
    params: JSON
    status: int = 200
    description: str | None = None
    fault: str | None = None
    started: float = 0.0
    duration: float = 0.0


@dataclass
class Stats:
    """The server's own work, for a benchmark to compare or subtract."""

    requests: int = 0
    connections: int = 0
    busy_seconds: float = 0.0  # time in the server's request code: parse, handle, serialise
    bytes_in: int = 0
    bytes_out: int = 0

    @property
    def seconds_per_request(self) -> float:
        return self.busy_seconds / self.requests if self.requests else 0.0


@dataclass(eq=False)
class _Fault:
    kind: str  # "error", "reset", "delay"
    status: int = 0
    description: str = ""
    parameters: JSON | None = None
    seconds: float = 0.0


@dataclass(eq=False)
class _Pending:
    update: JSON
    forced: bool = False  # a re-delivery: served once, whatever the offset


@dataclass(eq=False)
class _Poll:
    future: asyncio.Future[str]
    reader: asyncio.StreamReader | None = None

    @property
    def abandoned(self) -> bool:
        """The client closed the connection (PTB cancels its long poll when it stops)."""
        return self.reader is not None and self.reader.at_eof()


@dataclass(eq=False)
class _Callback:
    query_id: str
    chat_id: int
    data: str
    answered: bool = False


@dataclass(eq=False)
class _Chat:
    user: FakeUser
    api: JSON
    next_message_id: int = 1
    messages: dict[int, BotMessage] = field(default_factory=dict)
    order: list[BotMessage] = field(default_factory=list)
    user_messages: dict[int, JSON] = field(default_factory=dict)
    transcript: list[str] = field(default_factory=list)
    reply_keyboard: JSON | None = None
    actions: list[str] = field(default_factory=list)
    blocked: bool = False
    last_user_seq: int = 0


# --------------------------------------------------------------------------------------------
# Scripted users
# --------------------------------------------------------------------------------------------


class FakeUser:
    """A Telegram user in a private chat with the bot (the chat id is the user id).

    Every ``send_*`` / ``press*`` / ``tap`` creates one update, queues it for ``getUpdates`` and
    returns it (the raw dict, with its ``update_id``).
    """

    def __init__(
        self,
        server: FakeTelegram,
        user_id: int,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> None:
        self.server = server
        self.id = user_id
        self.first_name = first_name
        self.api: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        chat: JSON = {"id": user_id, "first_name": first_name}
        if last_name:
            self.api["last_name"] = chat["last_name"] = last_name
        if username:
            self.api["username"] = chat["username"] = username
        if language_code:
            self.api["language_code"] = language_code
        chat["type"] = "private"
        self.chat_api = chat

    def __repr__(self) -> str:
        return f"<FakeUser {self.id} {self.first_name!r}>"

    # -- sending ------------------------------------------------------------------------------

    def send_text(self, text: str) -> JSON:
        """A text message; a leading ``/command`` gets its ``bot_command`` entity as a client adds."""
        if not text or utf16_len(text) > MAX_TEXT:
            raise ValueError("a Telegram client sends 1-4096 UTF-16 code units of text")
        content: JSON = {"text": text}
        entities = command_entities(text)
        if entities:
            content["entities"] = entities
        return self.server._user_message(self, content, f"{text}")

    def send_command(self, command: str, payload: str | None = None) -> JSON:
        """``/start`` or ``/start payload`` with a ``bot_command`` entity at offset 0."""
        command = command if command.startswith("/") else f"/{command}"
        if not re.fullmatch(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?", command):
            raise ValueError(f"not a bot command: {command!r}")
        text = f"{command} {payload}" if payload else command
        entity = {"offset": 0, "length": utf16_len(command), "type": "bot_command"}
        return self.server._user_message(self, {"text": text, "entities": [entity]}, text)

    def send_voice(
        self,
        duration: int = 3,
        file_id: str | None = None,
        *,
        data: bytes | None = None,
        mime_type: str = "audio/ogg",
    ) -> JSON:
        """A voice note; its file can be fetched with getFile and downloaded."""
        stored = self.server._user_file(
            "voice",
            file_id,
            data if data is not None else b"OggS" + bytes(max(16, duration * 1600)),
            mime_type=mime_type,
            duration=duration,
        )
        return self.server._user_message(self, {"voice": stored.to_api()}, f"[voice {duration}s]")

    def send_sticker(self, emoji: str = "👍", file_id: str | None = None) -> JSON:
        stored = self.server._user_file(
            "sticker", file_id, b"RIFF\0\0\0\0WEBPVP8 " + bytes(64), width=512, height=512
        )
        sticker = {
            **stored.to_api(),
            "type": "regular",
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self.server._user_message(self, {"sticker": sticker}, f"[sticker {emoji}]")

    def send_photo(
        self,
        data: bytes | None = None,
        *,
        caption: str | None = None,
        width: int = 1280,
        height: int = 960,
    ) -> JSON:
        """A photo in two sizes (a 90px thumbnail and the full one), as clients send it."""
        data = data if data is not None else tiny_png(width, height)
        scale = 90 / max(width, height)
        thumb = self.server._user_file(
            "photo",
            None,
            data,
            width=max(1, round(width * scale)),
            height=max(1, round(height * scale)),
        )
        full = self.server._user_file("photo", None, data, width=width, height=height)
        content: JSON = {"photo": [thumb.to_api(), full.to_api()]}
        if caption:
            content["caption"] = caption
        return self.server._user_message(self, content, f"[photo] {caption or ''}".rstrip())

    def send_document(
        self,
        file_name: str,
        data: bytes,
        *,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
    ) -> JSON:
        stored = self.server._user_file(
            "document", None, data, file_name=file_name, mime_type=mime_type
        )
        content: JSON = {"document": stored.to_api()}
        if caption:
            content["caption"] = caption
        return self.server._user_message(self, content, f"[document {file_name}]")

    def send_location(self, latitude: float, longitude: float) -> JSON:
        location = {"latitude": latitude, "longitude": longitude}
        return self.server._user_message(
            self, {"location": location}, f"[location {latitude},{longitude}]"
        )

    def edit_text(self, message_id: int, text: str) -> JSON:
        """The user edits one of their text messages: an ``edited_message`` update."""
        chat = self.server._chat(self.id)
        original = chat.user_messages.get(message_id)
        if original is None or "text" not in original:
            raise LookupError(f"user {self.id} has no text message {message_id}")
        edited = {**original, "text": text, "edit_date": self.server.now()}
        edited.pop("entities", None)
        entities = command_entities(text)
        if entities:
            edited["entities"] = entities
        chat.user_messages[message_id] = edited
        chat.transcript.append(f"user edits {message_id}: {text}")
        chat.last_user_seq = self.server._bump()
        return self.server.push_update({"edited_message": edited})

    # -- keyboards ----------------------------------------------------------------------------

    def press(self, key: str, message: BotMessage | int | None = None) -> JSON:
        """Press the inline button whose text or callback_data is ``key``.

        The button is looked for in ``message`` if given, else in the latest bot message to
        this chat that has it. The update is a ``callback_query`` with a fresh id, ``from``,
        the message as it is now, ``chat_instance`` and ``data`` -- as Telegram sends it.
        """
        chat = self.server._chat(self.id)
        if message is None:
            candidates = [m for m in reversed(chat.order) if not m.deleted]
        else:
            found = chat.messages.get(message if isinstance(message, int) else message.message_id)
            candidates = [found] if found is not None and not found.deleted else []
        for candidate in candidates:
            button = candidate.button(key)
            if button is None:
                continue
            if "callback_data" not in button:
                raise LookupError(
                    f"button {key!r} in message {candidate.message_id} is not a callback button: "
                    f"{button}"
                )
            return self.server._callback_query(self, candidate.message_id, button["callback_data"])
        on_screen = [(m.message_id, m.buttons) for m in candidates if m.inline_keyboard]
        raise LookupError(
            f"no inline button {key!r} for user {self.id}; inline keyboards in the chat "
            f"(message id, rows): {on_screen[:5]}"
        )

    def press_data(self, data: str, message_id: int) -> JSON:
        """A callback query with any ``data`` for any message id (a forged or stale press).

        If the message does not exist the query carries an InaccessibleMessage (``date`` 0).
        """
        return self.server._callback_query(self, message_id, data)

    def tap(self, text: str) -> JSON:
        """Tap a button of the reply keyboard on screen: the client sends its text."""
        chat = self.server._chat(self.id)
        keyboard = chat.reply_keyboard
        texts = [str(b.get("text")) for row in (keyboard or {}).get("keyboard", []) for b in row]
        if text not in texts:
            raise LookupError(f"no reply-keyboard button {text!r} for user {self.id}: {texts}")
        if keyboard and keyboard.get("one_time_keyboard"):
            chat.reply_keyboard = None
        return self.send_text(text)

    # -- the bot's side of the chat -----------------------------------------------------------

    def block(self) -> None:
        """The user blocks the bot: sends to this chat answer 403."""
        self.server._chat(self.id).blocked = True

    def unblock(self) -> None:
        self.server._chat(self.id).blocked = False

    @property
    def messages(self) -> list[BotMessage]:
        return self.server.messages_to(self.id)

    @property
    def last(self) -> BotMessage | None:
        return self.server.last_message(self.id)

    @property
    def reply_keyboard(self) -> list[list[str]]:
        """The reply keyboard currently shown to this user."""
        keyboard = self.server._chat(self.id).reply_keyboard or {}
        return [[str(b.get("text")) for b in row] for row in keyboard.get("keyboard", [])]

    async def wait_reply(
        self, predicate: Callable[[BotMessage], object] | None = None, timeout: float = 5.0
    ) -> BotMessage:
        """The first bot message sent or edited since this user's last action (and matching)."""
        return await self.server.wait_for(self.id, predicate, timeout)


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Request:
    method: str
    target: str
    version: str
    headers: dict[str, str]

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def _http(
    status: int, body: bytes, content_type: str = "application/json", close: bool = False
) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        "Server: fake-telegram\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _parse_head(head: bytes) -> _Request:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ValueError(f"bad request line {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"bad header {line!r}")
        headers[name.strip().lower()] = value.strip()
    return _Request(parts[0].upper(), parts[1], parts[2], headers)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _unquote_plus(raw: bytes) -> str:
    """``urllib.parse.unquote_plus`` for bytes, with the %XX decoding done in C."""
    if b"+" in raw:
        raw = raw.replace(b"+", b" ")
    if b"%" in raw:
        try:
            raw = codecs.escape_decode(raw.replace(b"\\", b"\\\\").replace(b"%", b"\\x"))[0]
        except ValueError:  # a stray % that is not %XX: the slow, lenient way
            return (
                urllib.parse.unquote_plus(raw.decode("latin-1"), encoding="latin-1")
                .encode("latin-1")
                .decode("utf-8", "replace")
            )
    return raw.decode("utf-8", "replace")


def _parse_form(body: bytes) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in body.split(b"&"):
        if pair:
            key, _, value = pair.partition(b"=")
            params[_unquote_plus(key)] = _unquote_plus(value)
    return params


_DISPOSITION_PARAM = re.compile(r';\s*([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')


def _disposition(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for m in _DISPOSITION_PARAM.finditer(value):
        key = m.group(1).lower()
        raw = m.group(2) if m.group(2) is not None else m.group(3)
        if key.endswith("*"):  # RFC 5987: utf-8''percent-encoded
            _, _, encoded = raw.partition("''")
            params[key[:-1]] = urllib.parse.unquote(encoded)
            continue
        raw = re.sub(r"\\(.)", r"\1", raw)
        # HTML5 form encoding (httpx): " -> %22, CR -> %0D, LF -> %0A
        raw = re.sub(r"%(22|0[dDaA])", lambda h: chr(int(h.group(1), 16)), raw)
        params.setdefault(key, raw)
    return params


def _parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    boundary = _disposition(content_type).get("boundary")
    if not boundary:
        raise bad_request("can't parse multipart/form-data: no boundary")
    params: dict[str, Any] = {}
    delimiter = b"--" + boundary.encode("latin-1")
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        if part.startswith(b"\r\n"):
            part = part[2:]
        if part.endswith(b"\r\n"):
            part = part[:-2]
        head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            header, _, value = line.partition(":")
            headers[header.strip().lower()] = value.strip()
        disposition = _disposition(headers.get("content-disposition", ""))
        name = disposition.get("name")
        if name is None:
            continue
        if "filename" in disposition or headers.get("content-type", "").startswith(
            "application/octet-stream"
        ):
            params[name] = Upload(
                name, disposition.get("filename"), headers.get("content-type"), data
            )
        else:
            params[name] = data.decode("utf-8")
    return params


class _Params:
    """Request parameters with the Bot API's type coercions (everything may come as a string)."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def __contains__(self, name: str) -> bool:
        return self.raw.get(name) not in (None, "")

    def get_str(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None or isinstance(value, Upload):
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else json.dumps(value)

    def get_int(self, name: str, error: str | None = None) -> int | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int | str | float):
            raise bad_request(error or f"invalid {name} specified")
        try:
            return int(value)
        except ValueError:
            raise bad_request(error or f"invalid {name} specified") from None

    def get_float(self, name: str) -> float | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_bool(self, name: str) -> bool:
        value = self.raw.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def get_json(self, name: str, error: str | None = None) -> Any:
        value = self.raw.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(error or f"can't parse {name} JSON object") from None
        return value

    def summary(self) -> JSON:
        out: JSON = {}
        for key, value in self.raw.items():
            if isinstance(value, Upload):
                out[key] = f"<upload {value.filename!r} {len(value.data)} bytes>"
            else:
                out[key] = value
        return out


def tiny_png(width: int = 1, height: int = 1) -> bytes:
    """A valid grey PNG of the given size (1 bit per pixel, so even big ones are small)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    row = b"\0" + bytes((width + 7) // 8)
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG/JPEG/GIF/WebP/BMP, (0, 0) if an image of unknown size, else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data.startswith(b"GIF8") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8\xff"):
        i = 2
        while i + 9 < len(data) and data[i] == 0xFF:
            marker = data[i + 1]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + int(struct.unpack(">H", data[i + 2 : i + 4])[0])
        return 0, 0
    if data.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(int(width)), abs(int(height))
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return 0, 0
    return None


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------

Handler = Callable[[_Params], Any]


class _Described:
    """A result with a ``description`` beside it (setWebhook, deleteWebhook)."""

    def __init__(self, result: Any, description: str) -> None:
        self.result = result
        self.description = description


class FakeTelegram:
    """The fake Bot API server. Start it with ``async with FakeTelegram() as server``."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "caseflow_test_bot",
        bot_first_name: str = "Caseflow",
        first_update_id: int = 1000,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        log_limit: int = 10_000,
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self._clock = clock
        prefix = token.partition(":")[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 123456789
        self.bot_user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        # observing
        self.calls: Counter[str] = Counter()
        self.log: deque[ApiCall] = deque(maxlen=log_limit)
        self.errors: deque[ApiCall] = deque(maxlen=log_limit)
        self.unknown_methods: Counter[str] = Counter()
        self.internal_errors: list[str] = []  # exceptions in the fake's own code (answered 500)
        self.stats = Stats()
        self.callback_answers: list[JSON] = []
        self.deliveries: list[int] = []  # update ids in the order getUpdates returned them
        self.dropped_updates: list[JSON] = []  # refused by allowed_updates
        self.webhook: JSON | None = None
        self.files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        # state
        self._chats: dict[int, _Chat] = {}
        self._updates: deque[_Pending] = deque()
        self._history: dict[int, JSON] = {}
        self._next_update_id = first_update_id
        self._allowed: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self._callbacks: dict[str, _Callback] = {}
        self._ids = itertools.count(1)
        self._seq = 0
        self._poll: _Poll | None = None
        self._update_waiters: list[asyncio.Future[None]] = []
        self._change_waiters: list[asyncio.Future[None]] = []
        self._release = asyncio.Event()  # set: getUpdates answers; clear: it is held
        self._release.set()
        self._faults: dict[str, deque[_Fault]] = {}
        self._inflight = 0
        self._last_activity = 0.0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._handlers: dict[str, tuple[str, Handler]] = {}
        for name, handler in (
            ("getMe", self._get_me),
            ("logOut", self._true),
            ("close", self._true),
            ("getWebhookInfo", self._get_webhook_info),
            ("setWebhook", self._set_webhook),
            ("deleteWebhook", self._delete_webhook),
            ("sendMessage", self._send_message),
            ("editMessageText", self._edit_message_text),
            ("editMessageReplyMarkup", self._edit_message_reply_markup),
            ("editMessageCaption", self._edit_message_caption),
            ("deleteMessage", self._delete_message),
            ("answerCallbackQuery", self._answer_callback_query),
            ("sendDocument", lambda p: self._send_media("document", p)),
            ("sendPhoto", lambda p: self._send_media("photo", p)),
            ("sendVoice", lambda p: self._send_media("voice", p)),
            ("sendChatAction", self._send_chat_action),
            ("setMyCommands", self._set_my_commands),
            ("getMyCommands", self._get_my_commands),
            ("deleteMyCommands", self._delete_my_commands),
            ("getFile", self._get_file),
            ("getUpdates", self._true),  # served by _get_updates (it waits)
        ):
            self._handlers[name.lower()] = (name, handler)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> FakeTelegram:
        self._closing = False
        self._server = await asyncio.start_server(
            self._serve_connection, self.host, self.port, limit=1 << 20
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._last_activity = asyncio.get_running_loop().time()
        return self

    async def stop(self) -> None:
        self._closing = True
        if self._server is not None:
            self._server.close()
        self._release.set()
        self._resolve(self._update_waiters)
        self._resolve(self._change_waiters)
        if self._poll is not None and not self._poll.future.done():
            self._poll.future.set_result("closing")
        for writer in list(self._connections):
            writer.transport.abort()
        tasks = list(self._tasks)
        if tasks:  # aborted transports end their reads; cancel only what is still stuck
            _, stuck = await asyncio.wait(tasks, timeout=1.0)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)`` (PTB appends the token)."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT/botTOKEN``: append ``/method``."""
        return f"{self.base_url}{self.token}"

    def application_builder(self) -> InitApplicationBuilder:
        """An ``ApplicationBuilder`` with this server's token, base_url and base_file_url."""
        from telegram.ext import ApplicationBuilder

        return (
            ApplicationBuilder()
            .token(self.token)
            .base_url(self.base_url)
            .base_file_url(self.base_file_url)
        )

    def now(self) -> int:
        return int(self._clock())

    # -- scripted users and updates -----------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str = "Test",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> FakeUser:
        """The user with this id (created on first use, with a private chat of the same id)."""
        chat = self._chats.get(user_id)
        if chat is not None:
            return chat.user
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user = FakeUser(self, user_id, first_name, last_name, username, language_code)
        self._chats[user_id] = _Chat(user=user, api=user.chat_api)
        return user

    def push_update(self, update: JSON) -> JSON:
        """Queue a raw update; it gets the next ``update_id`` unless it has one."""
        if "update_id" not in update:
            update = {"update_id": self._next_update_id, **update}
        self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        kind = next((key for key in update if key != "update_id"), "")
        self._history[update["update_id"]] = update
        if kind not in self._allowed:
            self.dropped_updates.append(update)
            return update
        self._updates.append(_Pending(update))
        self._resolve(self._update_waiters)
        self._changed()
        return update

    def redeliver(self, update: JSON | int) -> JSON:
        """Deliver an update again with the same ``update_id`` (a duplicate, as after a crash).

        The duplicate is returned by the next ``getUpdates`` whatever its offset, first in the
        batch, then forgotten.
        """
        update_id = update if isinstance(update, int) else int(update["update_id"])
        original = self._history.get(update_id)
        if original is None:
            raise LookupError(f"no update {update_id} was ever created")
        self._updates.appendleft(_Pending(original, forced=True))
        self._resolve(self._update_waiters)
        self._changed()
        return original

    @property
    def pending_updates(self) -> int:
        """Updates not yet confirmed by a getUpdates with a higher offset."""
        return len(self._updates)

    def _chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise LookupError(f"no chat {chat_id}: create its user with server.user({chat_id})")
        return chat

    def _bump(self) -> int:
        self._seq += 1
        return self._seq

    def _new_file_id(self, kind: str) -> tuple[str, str]:
        n = next(self._ids)
        prefix = {"voice": "AwAC", "photo": "AgAC", "document": "BQAC", "sticker": "CAAC"}[kind]
        return f"{prefix}AgAD{n:08d}fake{self.bot_id}", f"AQAD{n:08d}"

    def _store_file(self, stored: StoredFile) -> StoredFile:
        self.files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _user_file(
        self,
        kind: str,
        file_id: str | None,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        width: int | None = None,
        height: int | None = None,
        duration: int | None = None,
    ) -> StoredFile:
        if file_id is not None and file_id in self.files:
            return self.files[file_id]
        new_id, unique = self._new_file_id(kind)
        folder = {
            "voice": "voice",
            "photo": "photos",
            "document": "documents",
            "sticker": "stickers",
        }
        extension = {"voice": ".oga", "photo": ".jpg", "sticker": ".webp"}.get(kind, "")
        if kind == "document" and file_name and "." in file_name:
            extension = "." + file_name.rsplit(".", 1)[1]
        return self._store_file(
            StoredFile(
                file_id=file_id or new_id,
                file_unique_id=unique,
                kind=kind,
                data=data,
                file_path=f"{folder[kind]}/file_{unique[4:]}{extension}",
                file_name=file_name,
                mime_type=mime_type,
                width=width,
                height=height,
                duration=duration,
            )
        )

    def _user_message(self, user: FakeUser, content: JSON, line: str) -> JSON:
        chat = self._chat(user.id)
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message: JSON = {
            "message_id": message_id,
            "from": user.api,
            "chat": chat.api,
            "date": self.now(),
            **content,
        }
        chat.user_messages[message_id] = message
        chat.transcript.append(f"user: {line}")
        chat.last_user_seq = self._bump()
        return self.push_update({"message": message})

    def _callback_query(self, user: FakeUser, message_id: int, data: str) -> JSON:
        chat = self._chat(user.id)
        query_id = f"{self.bot_id % 10**6}{next(self._ids):012d}"
        target = chat.messages.get(message_id)
        message = (
            target.to_api()
            if target is not None and not target.deleted
            else {"chat": chat.api, "message_id": message_id, "date": 0}
        )
        query = {
            "id": query_id,
            "from": user.api,
            "message": message,
            "chat_instance": str((user.id * 2654435761 + self.bot_id) % (1 << 62)),
            "data": data,
        }
        self._callbacks[query_id] = _Callback(query_id, user.id, data)
        chat.transcript.append(f"user presses {data!r} on message {message_id}")
        chat.last_user_seq = self._bump()
        return self.push_update({"callback_query": query})

    # -- fault injection ----------------------------------------------------------------------

    def _add_fault(self, method: str, times: int, fault: _Fault) -> None:
        queue = self._faults.setdefault(method.lower(), deque())
        queue.extend(fault for _ in range(times))

    def flood(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer 429 with ``parameters.retry_after``.

        ``method="*"`` means any method but getUpdates. PTB raises ``RetryAfter`` only when
        retry_after is non-zero; with 0 it raises a plain ``NetworkError``.
        """
        self._add_fault(
            method,
            times,
            _Fault(
                "error",
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            ),
        )

    def fail(
        self, method: str, times: int = 1, status: int = 502, description: str | None = None
    ) -> None:
        """The next ``times`` calls answer ``status`` (default 502 Bad Gateway)."""
        text = description or _REASONS.get(status, "Error")
        self._add_fault(method, times, _Fault("error", status, text))

    def reset_connection(self, method: str, times: int = 1) -> None:
        """The next ``times`` calls get their TCP connection reset instead of an answer."""
        self._add_fault(method, times, _Fault("reset"))

    def delay(self, method: str, seconds: float, times: int = 1) -> None:
        """The next ``times`` calls are handled normally after ``seconds`` (for client time-outs)."""
        self._add_fault(method, times, _Fault("delay", seconds=seconds))

    def clear_faults(self) -> None:
        self._faults.clear()

    def hold_updates(self) -> None:
        """getUpdates calls wait (no answer) until :meth:`release_updates`."""
        self._release.clear()

    def release_updates(self) -> None:
        self._release.set()

    @contextlib.contextmanager
    def updates_held(self) -> Iterator[None]:
        self.hold_updates()
        try:
            yield
        finally:
            self.release_updates()

    def _take_fault(self, name: str) -> _Fault | None:
        for key in (name, "*") if name != "getupdates" else (name,):
            queue = self._faults.get(key)
            if queue:
                return queue.popleft()
        return None

    # -- observing ----------------------------------------------------------------------------

    def messages_to(self, chat_id: int) -> list[BotMessage]:
        """Every message the bot sent to the chat, in order, edits applied (deleted ones too)."""
        return list(self._chat(chat_id).order)

    def last_message(self, chat_id: int) -> BotMessage | None:
        order = self._chat(chat_id).order
        return order[-1] if order else None

    def transcript(self, chat_id: int) -> list[str]:
        """The chat as lines: ``user: ...``, ``bot: ...``, ``bot edits N: ...``."""
        return list(self._chat(chat_id).transcript)

    def chat_actions(self, chat_id: int) -> list[str]:
        return list(self._chat(chat_id).actions)

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON] | None:
        """The commands set by setMyCommands for a scope (default: all private chats...)."""
        return self._commands.get((self._scope_key(scope), language_code))

    def calls_of(self, method: str) -> list[ApiCall]:
        """The logged calls of a method, oldest first."""
        return [c for c in self.log if c.method.lower() == method.lower()]

    @property
    def api_errors(self) -> list[ApiCall]:
        """Calls that the fake refused (4xx) because of what the bot sent; injected faults excluded."""
        return [c for c in self.errors if c.fault is None]

    def _changed(self) -> None:
        self._resolve(self._change_waiters)

    @staticmethod
    def _resolve(waiters: list[asyncio.Future[None]]) -> None:
        for future in waiters:
            if not future.done():
                future.set_result(None)
        waiters.clear()

    async def _wait_change(self, timeout: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._change_waiters.append(future)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(future, max(timeout, 0))

    async def wait_until(
        self,
        condition: Callable[[], object],
        timeout: float = 5.0,
        what: str = "condition",
        *,
        chat_id: int | None = None,
    ) -> None:
        """Wait until ``condition()`` is true, re-checked on every server event (and every 50 ms).

        Raises :class:`WaitTimeout` after ``timeout`` seconds, with :meth:`explain` (and the
        transcript of ``chat_id``) in its message.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing:
                raise WaitTimeout(
                    f"timed out after {timeout}s waiting for {what}\n{self.explain(chat_id)}"
                )
            await self._wait_change(min(remaining, 0.05))

    async def wait_for(
        self,
        chat_id: int,
        predicate: Callable[[BotMessage], object] | None = None,
        timeout: float = 5.0,
        *,
        since: int | None = None,
    ) -> BotMessage:
        """The first bot message in the chat sent or edited after ``since`` that matches.

        ``since`` defaults to the chat's last user action, so "the reply to what the user just
        did"; ``since=0`` searches the whole chat.
        """
        chat = self._chat(chat_id)
        cursor = chat.last_user_seq if since is None else since
        found: list[BotMessage] = []

        def match() -> bool:
            for message in chat.order:
                if message.seq > cursor and (predicate is None or predicate(message)):
                    found.append(message)
                    return True
            return False

        what = f"a bot message in chat {chat_id}" + (" matching the predicate" if predicate else "")
        await self.wait_until(match, timeout, what, chat_id=chat_id)
        return found[0]

    @property
    def idle(self) -> bool:
        return not self._updates and self._inflight == 0

    async def wait_until_idle(self, timeout: float = 5.0, quiet: float = 0.1) -> None:
        """Wait until every update was confirmed, no bot call is in flight and none came for
        ``quiet`` seconds. Fails with :class:`WaitTimeout` after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            now = loop.time()
            if self.idle and now - self._last_activity >= quiet:
                return
            if now >= deadline or self._closing:
                raise WaitTimeout(
                    f"the bot did not become idle within {timeout}s "
                    f"({len(self._updates)} updates unconfirmed, {self._inflight} calls in "
                    f"flight)\n{self.explain()}"
                )
            wait = deadline - now
            if self.idle:
                wait = min(wait, self._last_activity + quiet - now)
            await self._wait_change(min(wait, 0.05))

    def explain(self, chat_id: int | None = None) -> str:
        """What the fake saw, for failure messages."""
        lines = [
            f"pending updates: {len(self._updates)}; getUpdates waiting: {self._poll is not None}; "
            f"calls: {dict(self.calls)}"
        ]
        if self.internal_errors:
            lines.append(f"the fake itself failed: {self.internal_errors[-3:]}")
        if self.unknown_methods:
            lines.append(f"methods the fake does not implement (404): {dict(self.unknown_methods)}")
        failed = [c for c in self.errors if c.fault is None][-5:]
        for call in failed:
            lines.append(f"failed call {call.method} -> {call.status} {call.description}")
        if chat_id is not None and chat_id in self._chats:
            tail = self._chats[chat_id].transcript[-12:]
            lines.append(f"chat {chat_id} transcript (last {len(tail)}):")
            lines.extend("  " + line.replace("\n", "\n    ") for line in tail)
        return "\n".join(lines)

    # -- HTTP ---------------------------------------------------------------------------------

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._connections.add(writer)
        self.stats.connections += 1
        try:
            while not self._closing:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                except asyncio.LimitOverrunError:
                    writer.write(_http(431, b"", close=True))
                    return
                started = time.perf_counter()
                try:
                    request = _parse_head(head)
                except ValueError:
                    writer.write(_http(400, b"", close=True))
                    return
                if request.headers.get("expect", "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                self.stats.busy_seconds += time.perf_counter() - started
                try:
                    if "chunked" in request.headers.get("transfer-encoding", "").lower():
                        body = await _read_chunked(reader)
                    else:
                        length = int(request.headers.get("content-length") or 0)
                        body = await reader.readexactly(length) if length else b""
                except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                    return
                self.stats.bytes_in += len(head) + len(body)
                response = await self._respond(request, body, reader)
                if response is None:  # injected connection reset
                    sock = writer.get_extra_info("socket")
                    if sock is not None:
                        with contextlib.suppress(OSError):
                            sock.setsockopt(
                                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                            )
                    writer.transport.abort()
                    return
                self.stats.bytes_out += len(response)
                writer.write(response)
                await writer.drain()
                if not request.keep_alive:
                    return
        except ConnectionError:
            return
        except asyncio.CancelledError:
            # Only stop() cancels these tasks; ending normally keeps Python 3.11's
            # StreamReaderProtocol from logging the cancellation as an error.
            return
        finally:
            self._connections.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _respond(
        self, request: _Request, body: bytes, reader: asyncio.StreamReader | None = None
    ) -> bytes | None:
        started = time.perf_counter()
        path, _, query = request.target.partition("?")
        path = urllib.parse.unquote(path)
        if path.startswith("/file/bot"):
            response = self._serve_file(path[len("/file/bot") :])
            self.stats.requests += 1
            self.stats.busy_seconds += time.perf_counter() - started
            return response
        if not path.startswith("/bot"):
            self.stats.busy_seconds += time.perf_counter() - started
            return _http(404, _dumps({"ok": False, "error_code": 404, "description": "Not Found"}))
        token, _, method = path[4:].partition("/")
        if token != self.token:
            self.stats.busy_seconds += time.perf_counter() - started
            return _http(
                401, _dumps({"ok": False, "error_code": 401, "description": "Unauthorized"})
            )
        name = method.lower()
        canonical, handler = self._handlers.get(name, (method, None))
        self.stats.requests += 1
        self.calls[canonical] += 1
        is_poll = name == "getupdates"
        loop = asyncio.get_running_loop()
        call = ApiCall(canonical, {}, started=loop.time())
        if not is_poll:
            self._inflight += 1
            self._last_activity = loop.time()
        busy = 0.0
        status = 200
        payload: JSON
        try:
            fault = self._take_fault(name)
            if fault is not None and fault.kind == "delay":
                busy += time.perf_counter() - started
                await asyncio.sleep(fault.seconds)
                started = time.perf_counter()
                call.fault = f"delay {fault.seconds}s"
                fault = None
            if fault is not None and fault.kind == "reset":
                call.fault = "reset"
                call.status = 0
                self.log.append(call)
                return None
            if fault is not None:
                call.fault = f"{fault.status}"
                raise ApiError(fault.status, fault.description, fault.parameters)
            params = _Params(self._parse_params(request, body, query))
            call.params = params.summary()
            if handler is None:
                self.unknown_methods[canonical] += 1
                raise ApiError(404, "Not Found: method not found")
            if is_poll:
                busy += time.perf_counter() - started
                result = await self._get_updates(params, reader)
                started = time.perf_counter()
            else:
                result = handler(params)
            payload = {"ok": True, "result": result}
            if isinstance(result, _Described):
                payload = {"ok": True, "result": result.result, "description": result.description}
        except ApiError as exc:
            status = exc.status
            payload = exc.payload()
            call.status = status
            call.description = exc.description
            if exc.abandoned:
                call.fault = "client gone"
            self.errors.append(call)
        except Exception as exc:  # a bug in the fake itself: answer, and keep it visible
            status = 500
            description = f"Internal Server Error: the fake failed: {exc!r}"
            payload = {"ok": False, "error_code": 500, "description": description}
            call.status, call.description = status, description
            self.errors.append(call)
            self.internal_errors.append(f"{canonical}: {exc!r}")
        finally:
            if not is_poll:
                self._inflight -= 1
                self._last_activity = loop.time()
                self._changed()
        call.duration = loop.time() - call.started
        self.log.append(call)
        response = _http(status, _dumps(payload))
        self.stats.busy_seconds += busy + time.perf_counter() - started
        return response

    def _parse_params(self, request: _Request, body: bytes, query: str) -> dict[str, Any]:
        params: dict[str, Any] = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        if not body:
            return params
        content_type = request.headers.get("content-type", "")
        mime = content_type.partition(";")[0].strip().lower()
        if mime == "application/json":
            try:
                data = json.loads(body)
            except ValueError:
                raise bad_request("can't parse JSON object") from None
            if not isinstance(data, dict):
                raise bad_request("JSON object expected")
            params.update(data)
        elif mime == "application/x-www-form-urlencoded":
            params.update(_parse_form(body))
        elif mime == "multipart/form-data":
            params.update(_parse_multipart(body, content_type))
        return params

    def _serve_file(self, rest: str) -> bytes:
        token, _, file_path = rest.partition("/")
        stored = self._files_by_path.get(file_path) if token == self.token else None
        if stored is None:
            return _http(404, _dumps({"ok": False, "error_code": 404, "description": "Not Found"}))
        return _http(200, stored.data, content_type="application/octet-stream")

    # -- getUpdates ---------------------------------------------------------------------------

    async def _get_updates(
        self, p: _Params, reader: asyncio.StreamReader | None = None
    ) -> list[JSON]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = p.get_int("offset") or 0
        limit = min(max(p.get_int("limit") or 100, 1), 100)
        timeout = max(p.get_float("timeout") or 0.0, 0.0)
        allowed = p.get_json("allowed_updates", "can't parse allowed_updates JSON object")
        if isinstance(allowed, list):
            self._allowed = (
                frozenset(str(a) for a in allowed) if allowed else DEFAULT_ALLOWED_UPDATES
            )
        # a new getUpdates terminates the one still waiting, as Telegram does
        if self._poll is not None and not self._poll.future.done():
            self._poll.future.set_result("conflict")
        poll = _Poll(asyncio.get_running_loop().create_future(), reader)
        self._poll = poll
        try:
            self._confirm(offset)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                if not self._release.is_set():
                    await self._until(poll, self._release.wait(), None)
                if poll.future.done():
                    if poll.future.result() == "closing":
                        return []
                    break
                batch = self._take(offset, limit)
                remaining = deadline - loop.time()
                if batch and poll.abandoned:  # nobody would read it: keep it for the next poll
                    return self._abandon(batch)
                if batch or remaining <= 0 or self._closing:
                    if batch:
                        self._last_activity = loop.time()
                        self.deliveries.extend(u["update_id"] for u in batch)
                        self._changed()
                    return batch
                waiter: asyncio.Future[None] = loop.create_future()
                self._update_waiters.append(waiter)
                await self._until(poll, waiter, remaining)
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot "
                "instance is running",
                abandoned=poll.abandoned,
            )
        finally:
            if self._poll is poll:
                self._poll = None

    async def _until(self, poll: _Poll, awaitable: Any, timeout: float | None) -> None:
        """Wait for ``awaitable``, for the poll to be terminated, or for ``timeout``."""
        task = asyncio.ensure_future(awaitable)
        try:
            await asyncio.wait(
                {task, poll.future}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if not task.done():
                task.cancel()

    def _abandon(self, batch: list[JSON]) -> list[JSON]:
        """Put re-deliveries taken for a poll whose client has gone back in the queue."""
        queued = {id(p.update) for p in self._updates}
        for update in reversed(batch):
            if id(update) not in queued:
                self._updates.appendleft(_Pending(update, forced=True))
        return []

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            kept = deque(p for p in self._updates if p.forced or p.update["update_id"] >= offset)
        elif offset < 0:
            normal = [p for p in self._updates if not p.forced][offset:]
            kept = deque([p for p in self._updates if p.forced] + normal)
        else:
            return
        if len(kept) != len(self._updates):
            self._updates = kept
            self._changed()

    def _take(self, offset: int, limit: int) -> list[JSON]:
        batch: list[JSON] = []
        forced = [p for p in self._updates if p.forced][:limit]
        if forced:
            self._updates = deque(p for p in self._updates if p not in forced)
            batch.extend(p.update for p in forced)
        for pending in self._updates:
            if len(batch) >= limit:
                break
            if offset <= 0 or pending.update["update_id"] >= offset:
                batch.append(pending.update)
        return batch

    # -- methods ------------------------------------------------------------------------------

    def _true(self, p: _Params) -> bool:
        return True

    def _get_me(self, p: _Params) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _get_webhook_info(self, p: _Params) -> JSON:
        info: JSON = {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        return info

    def _set_webhook(self, p: _Params) -> _Described:
        url = p.get_str("url") or ""
        if not url:
            return self._delete_webhook(p)
        if not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = {"url": url, **{k: v for k, v in p.summary().items() if k != "url"}}
        if p.get_bool("drop_pending_updates"):
            self._updates.clear()
        return _Described(True, "Webhook was set")

    def _delete_webhook(self, p: _Params) -> _Described:
        if p.get_bool("drop_pending_updates"):
            self._updates.clear()
            self._changed()
        had = self.webhook is not None
        self.webhook = None
        return _Described(True, "Webhook was deleted" if had else "Webhook is already deleted")

    def _target_chat(self, p: _Params) -> _Chat:
        chat_id = p.get_int("chat_id", "chat not found")
        if chat_id is None:
            raise bad_request("chat_id is empty")
        chat = self._chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _markup(self, p: _Params) -> JSON | None:
        markup = p.get_json("reply_markup", "can't parse reply keyboard markup JSON object")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request(
                    'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
                )
            clean_rows: list[list[JSON]] = []
            for row in rows:
                clean: list[JSON] = []
                for button in row:
                    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                        raise bad_request(
                            "can't parse inline keyboard button: Text is not specified"
                        )
                    button = {k: v for k, v in button.items() if v is not None}
                    actions = [a for a in INLINE_BUTTON_ACTIONS if a in button]
                    if not actions:
                        raise bad_request(
                            "can't parse inline keyboard button: Text buttons are unallowed in "
                            "the inline keyboard"
                        )
                    if "callback_data" in button:
                        data = button["callback_data"]
                        if (
                            not isinstance(data, str)
                            or not data
                            or len(data.encode("utf-8")) > MAX_CALLBACK_DATA
                        ):
                            raise bad_request("BUTTON_DATA_INVALID")
                    if "url" in button and not button["url"]:
                        raise bad_request("BUTTON_URL_INVALID")
                    clean.append(button)
                clean_rows.append(clean)
            return {"inline_keyboard": clean_rows}
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request(
                    'field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays'
                )
            keyboard = [
                [b if isinstance(b, dict) else {"text": str(b)} for b in row] for row in rows
            ]
            return {**{k: v for k, v in markup.items() if v is not None}, "keyboard": keyboard}
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return {k: v for k, v in markup.items() if v is not None}
        raise bad_request("can't parse reply keyboard markup JSON object")

    def _record(self, chat: _Chat, message: BotMessage, line: str) -> BotMessage:
        chat.messages[message.message_id] = message
        chat.order.append(message)
        chat.transcript.append(line)
        markup = message.reply_markup or {}
        if "keyboard" in markup:
            chat.reply_keyboard = markup
        elif markup.get("remove_keyboard"):
            chat.reply_keyboard = None
        message.seq = self._bump()
        self._changed()
        return message

    def _new_bot_message(self, chat: _Chat, kind: str, p: _Params) -> BotMessage:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        return BotMessage(
            chat_id=chat.user.id,
            message_id=message_id,
            date=self.now(),
            kind=kind,
            chat=chat.api,
            sender=self.bot_user,
            params=p.summary(),
        )

    def _send_message(self, p: _Params) -> JSON:
        source = p.get_str("text")
        if not source:
            raise bad_request("message text is empty")
        parse_mode = p.get_str("parse_mode")
        text, entities = format_text(source, parse_mode, p.get_json("entities"))
        if not text:
            raise bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        chat = self._target_chat(p)
        markup = self._markup(p)
        message = self._new_bot_message(chat, "text", p)
        message.text, message.entities, message.source = text, entities, source
        message.parse_mode, message.reply_markup = parse_mode, markup
        self._record(
            chat, message, f"bot: {text}" + (f"  {message.buttons}" if message.buttons else "")
        )
        return message.to_api()

    def _caption(self, p: _Params) -> tuple[str | None, list[JSON], str | None]:
        source = p.get_str("caption")
        if source is None:
            return None, [], None
        caption, entities = format_text(
            source, p.get_str("parse_mode"), p.get_json("caption_entities")
        )
        if utf16_len(caption) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        return (caption or None), entities, source

    def _input_file(self, kind: str, p: _Params) -> StoredFile:
        value = p.raw.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            value = p.raw.get(value[len("attach://") :])
        if value is None or value == "":
            raise bad_request(f"there is no {kind} in the request")
        if isinstance(value, Upload):
            if not value.data:
                raise bad_request("file must be non-empty")
            if len(value.data) > MAX_UPLOAD:
                raise ApiError(413, "Request Entity Too Large")
            width = height = None
            mime = value.content_type
            if kind == "photo":
                size = _image_size(value.data)
                if size is None:
                    raise bad_request("IMAGE_PROCESS_FAILED")
                width, height = size
                if (
                    width
                    and height
                    and (width + height > 10000 or max(width, height) > 20 * min(width, height))
                ):
                    raise bad_request("PHOTO_INVALID_DIMENSIONS")
            name = value.filename
            if kind == "voice":
                mime = "audio/ogg"
            stored = self._user_file(
                kind,
                None,
                value.data,
                file_name=name if kind == "document" else None,
                mime_type=mime if kind != "photo" else None,
                width=width,
                height=height,
                duration=(p.get_int("duration") or 0) if kind == "voice" else None,
            )
            stored.file_name = name  # the name as uploaded, whatever the kind
            return stored
        reference = str(value)
        if reference.startswith(("http://", "https://")):
            raise bad_request("wrong file identifier/HTTP URL specified")
        stored_file = self.files.get(reference)
        if stored_file is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if stored_file.kind != kind and not (kind == "document" and stored_file.kind != "sticker"):
            raise bad_request(
                f"can't use file of type {stored_file.kind.capitalize()} as {kind.capitalize()}"
            )
        return stored_file

    def _send_media(self, kind: str, p: _Params) -> JSON:
        caption, entities, source = self._caption(p)
        chat = self._target_chat(p)
        stored = self._input_file(kind, p)
        markup = self._markup(p)
        message = self._new_bot_message(chat, kind, p)
        message.caption, message.entities, message.source = caption, entities, source
        message.parse_mode, message.reply_markup, message.file = (
            p.get_str("parse_mode"),
            markup,
            stored,
        )
        if kind == "photo":
            message.media = [stored.to_api()]
        else:
            media = stored.to_api()
            if kind == "document" and stored.file_name is not None:
                media["file_name"] = stored.file_name
            message.media = media
        label = stored.file_name or stored.file_id
        self._record(
            chat,
            message,
            f"bot sends {kind} {label} ({stored.size} bytes) {caption or ''}".rstrip(),
        )
        return message.to_api()

    def _edited(self, p: _Params) -> tuple[_Chat, BotMessage]:
        if "inline_message_id" in p:
            raise bad_request("message to edit not found")
        chat = self._target_chat(p)
        message_id = p.get_int("message_id", "message to edit not found")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            if message_id in chat.user_messages:
                raise bad_request("message can't be edited")
            raise bad_request("message to edit not found")
        return chat, message

    def _apply_edit(
        self,
        chat: _Chat,
        message: BotMessage,
        *,
        text: str | None,
        caption: str | None,
        entities: list[JSON],
        source: str | None,
        parse_mode: str | None,
        markup: JSON | None,
    ) -> JSON:
        if markup is not None and "inline_keyboard" not in markup:
            raise bad_request("inline keyboard expected")
        if (
            text == message.text
            and caption == message.caption
            and entities == message.entities
            and markup == (message.reply_markup if message.inline_keyboard else None)
        ):
            raise bad_request(NOT_MODIFIED[len("Bad Request: ") :])
        message.history.append(
            MessageVersion(
                message.text,
                message.caption,
                message.entities,
                message.source,
                message.reply_markup,
                message.edit_date or message.date,
            )
        )
        message.text, message.caption, message.entities = text, caption, entities
        if markup is None and not message.inline_keyboard:
            markup = message.reply_markup  # a reply keyboard sent with the message stays
        message.source, message.parse_mode, message.reply_markup = source, parse_mode, markup
        message.edit_date = self.now()
        message.seq = self._bump()
        chat.transcript.append(
            f"bot edits {message.message_id}: {message.content}"
            + (f"  {message.buttons}" if message.buttons else "")
        )
        self._changed()
        return message.to_api()

    def _edit_message_text(self, p: _Params) -> JSON:
        source = p.get_str("text")
        if not source:
            raise bad_request("message text is empty")
        parse_mode = p.get_str("parse_mode")
        text, entities = format_text(source, parse_mode, p.get_json("entities"))
        if not text:
            raise bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        chat, message = self._edited(p)
        markup = self._markup(p)
        if message.kind != "text":
            raise bad_request("there is no text in the message to edit")
        return self._apply_edit(
            chat,
            message,
            text=text,
            caption=None,
            entities=entities,
            source=source,
            parse_mode=parse_mode,
            markup=markup,
        )

    def _edit_message_caption(self, p: _Params) -> JSON:
        caption, entities, source = self._caption(p)
        chat, message = self._edited(p)
        markup = self._markup(p)
        if message.kind == "text":
            raise bad_request("there is no caption in the message to edit")
        return self._apply_edit(
            chat,
            message,
            text=None,
            caption=caption,
            entities=entities,
            source=source,
            parse_mode=p.get_str("parse_mode"),
            markup=markup,
        )

    def _edit_message_reply_markup(self, p: _Params) -> JSON:
        chat, message = self._edited(p)
        markup = self._markup(p)
        return self._apply_edit(
            chat,
            message,
            text=message.text,
            caption=message.caption,
            entities=message.entities,
            source=message.source,
            parse_mode=message.parse_mode,
            markup=markup,
        )

    def _delete_message(self, p: _Params) -> bool:
        chat = self._target_chat(p)
        message_id = p.get_int("message_id", "message to delete not found")
        message = chat.messages.get(message_id or 0)
        if message is None or message.deleted:
            if message_id in chat.user_messages:
                del chat.user_messages[message_id]
                return True
            raise bad_request("message to delete not found")
        message.deleted = True
        message.seq = self._bump()
        chat.transcript.append(f"bot deletes {message_id}")
        self._changed()
        return True

    def _answer_callback_query(self, p: _Params) -> bool:
        query_id = p.get_str("callback_query_id") or ""
        callback = self._callbacks.get(query_id)
        if callback is None or callback.answered:
            raise bad_request(QUERY_TOO_OLD[len("Bad Request: ") :])
        text = p.get_str("text")
        if text is not None and utf16_len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        callback.answered = True
        answer = {"callback_query_id": query_id, "data": callback.data, "chat_id": callback.chat_id}
        answer.update({k: v for k, v in p.summary().items() if k != "callback_query_id"})
        self.callback_answers.append(answer)
        if callback.chat_id in self._chats:
            shown = f": {text}" if text else ""
            self._chats[callback.chat_id].transcript.append(f"bot answers the press{shown}")
        return True

    def _send_chat_action(self, p: _Params) -> bool:
        action = p.get_str("action") or ""
        chat = self._target_chat(p)
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat.actions.append(action)
        return True

    @staticmethod
    def _scope_key(scope: Any) -> str:
        if not scope:
            return "default"
        if isinstance(scope, dict):
            return json.dumps(scope, sort_keys=True)
        return str(scope)

    def _set_my_commands(self, p: _Params) -> bool:
        commands = p.get_json("commands", "can't parse commands JSON object")
        if not isinstance(commands, list):
            raise bad_request("commands must be an Array")
        if len(commands) > MAX_COMMANDS:
            raise bad_request("too many commands specified")
        clean: list[JSON] = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand")
            name = str(command.get("command", ""))
            description = str(command.get("description", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name.lower().lstrip("/")):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= utf16_len(description) <= 256:
                raise bad_request(
                    "command description is empty"
                    if not description
                    else "BOT_COMMAND_DESCRIPTION_INVALID"
                )
            clean.append({"command": name.lower().lstrip("/"), "description": description})
        key = (self._scope_key(p.get_json("scope")), p.get_str("language_code") or "")
        self._commands[key] = clean
        return True

    def _get_my_commands(self, p: _Params) -> list[JSON]:
        key = (self._scope_key(p.get_json("scope")), p.get_str("language_code") or "")
        return list(self._commands.get(key, []))

    def _delete_my_commands(self, p: _Params) -> bool:
        key = (self._scope_key(p.get_json("scope")), p.get_str("language_code") or "")
        self._commands.pop(key, None)
        return True

    def _get_file(self, p: _Params) -> JSON:
        file_id = p.get_str("file_id") or ""
        stored = self.files.get(file_id)
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.size > MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }


# --------------------------------------------------------------------------------------------
# Running a PTB Application against the fake
# --------------------------------------------------------------------------------------------


def bypass_proxies() -> None:
    """Make httpx (PTB) reach 127.0.0.1 directly even if an HTTP(S) proxy is configured."""
    for name in ("NO_PROXY", "no_proxy"):
        hosts = [h for h in os.environ.get(name, "").split(",") if h]
        for host in ("127.0.0.1", "localhost"):
            if host not in hosts:
                hosts.append(host)
        os.environ[name] = ",".join(hosts)


@contextlib.asynccontextmanager
async def polling(
    app: Application[Any, Any, Any, Any, Any, Any],
    *,
    timeout: int = 10,
    drop_pending_updates: bool = False,
    allowed_updates: list[str] | None = None,
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """Initialize, start polling and start ``app``; stop and shut it down on exit.

    ``timeout`` is the long-poll timeout sent with getUpdates; stopping does not wait for it
    (PTB cancels the pending request).
    """
    await app.initialize()
    try:
        assert app.updater is not None, "build the Application with an Updater"
        await app.updater.start_polling(
            poll_interval=0.0,
            timeout=timeout,
            drop_pending_updates=drop_pending_updates,
            allowed_updates=allowed_updates,
        )
        await app.start()
        yield app
    finally:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
