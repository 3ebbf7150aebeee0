#!/usr/bin/env python
"""The caregiver check-in written the way python-telegram-bot's own examples write a bot.

A baseline for ``bench/telegram.py``: the same questions, options and skip logic as
``flows/bundled/child_checkin.yaml`` (English only), built like PTB's ``conversationbot.py``,
``inlinekeyboard2.py`` and ``persistentconversationbot.py``:

- one ``ConversationHandler`` with a state per question, ``CallbackQueryHandler`` for taps and
  ``MessageHandler`` for typed answers, answers kept in ``context.user_data``;
- ``PicklePersistence`` (the conversation and user_data are flushed to a pickle every 60 s
  and at shutdown: a crash in between loses them);
- on a tap ``query.answer()`` + ``query.edit_message_text(...)`` (the question with the
  answer ticked) + ``reply_text`` with the next question, the same three Bot API calls our
  bot makes; on typed text one ``reply_text``;
- default ``Application`` settings and ``application.run_polling()``.

Not here (our bot has them): Back, /edit from the review, voice answers, carry-forward, other
languages, storing anything in a database.

    TELEGRAM_BOT_TOKEN=... python bench/baseline_conversationhandler.py \
        [--base-url http://127.0.0.1:PORT/bot] [--persistence FILE]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

# bench/telegram.py sits beside this file: keep it from shadowing the telegram package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update  # noqa: E402
from telegram.ext import (  # noqa: E402
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    PicklePersistence,
    filters,
)

# Enable logging
logging.basicConfig(
    format="%(asctime)s - %(name)s - %(levelname)s - %(message)s", level=logging.INFO
)
# set higher logging level for httpx to avoid all GET and POST requests being logged
logging.getLogger("httpx").setLevel(logging.WARNING)
logger = logging.getLogger(__name__)

(
    MOOD,
    EXPRESSION,
    EXPRESSION_DETAIL,
    SLEEP,
    SCHOOL_DAYS,
    SCHOOL_NOTE,
    HAS_WORRIES,
    WORRIES,
    SINCE_WHEN,
    WHO_KNOWS,
    WANTS_CALL,
    REVIEW,
) = range(12)

INTRO = "Thank you for taking a moment. Think about the child over the past week."
FACES = ["😢", "🙁", "😐", "🙂", "😄"]
EXPRESSIONS = {
    "told": "Told someone about it",
    "cried": "Cried or got angry",
    "kept_inside": "Kept it inside, went quiet",
    "not_upset": "Nothing upset them",
}
SLEEPS = {"well": "Well", "some_bad_nights": "Some bad nights", "badly": "Badly most nights"}
SKIP = [InlineKeyboardButton("Skip ➡", callback_data="skip")]
LABELS = {
    "mood": "Mood this week",
    "expression": "How upset was shown",
    "expression_detail": "What happened",
    "sleep": "Sleep",
    "school_days_missed": "School days missed",
    "school_note": "Why school was missed",
    "has_worries": "Any worries",
    "worries": "Worries",
    "since_when": "Since when has this been going on?",
    "who_knows": "Who else knows about it (parents, teacher, neighbours)?",
    "wants_call": "Wants a call",
}


def answers(context: ContextTypes.DEFAULT_TYPE) -> dict[str, Any]:
    """This check-in's answers so far, kept in user_data (persisted in the pickle)."""
    assert context.user_data is not None
    found: dict[str, Any] = context.user_data.setdefault("answers", {})
    return found


def yes_no(prefix: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Yes", callback_data=f"{prefix}:yes")],
            [InlineKeyboardButton("No", callback_data=f"{prefix}:no")],
        ]
    )


async def ask_mood(message: Message) -> int:
    keyboard = [
        [InlineKeyboardButton(face, callback_data=f"mood:{i + 1}") for i, face in enumerate(FACES)]
    ]
    await message.reply_text(
        f"{INTRO}\n\n1/5 · Mood\n\nHow has the child's mood been this week?",
        reply_markup=InlineKeyboardMarkup(keyboard),
    )
    return MOOD


async def ask_expression(message: Message) -> int:
    keyboard = [
        [InlineKeyboardButton(label, callback_data=f"expression:{value}")]
        for value, label in EXPRESSIONS.items()
    ]
    await message.reply_text(
        "2/5 · Mood\n\nWhen something upset the child, how did they show it?",
        reply_markup=InlineKeyboardMarkup(keyboard),
    )
    return EXPRESSION


async def ask_sleep(message: Message) -> int:
    keyboard = [
        [InlineKeyboardButton(label, callback_data=f"sleep:{value}")]
        for value, label in SLEEPS.items()
    ]
    await message.reply_text(
        "Sleep and school\n\nHow has the child slept this week?",
        reply_markup=InlineKeyboardMarkup(keyboard),
    )
    return SLEEP


async def ask_has_worries(message: Message) -> int:
    await message.reply_text(
        "Worries\n\nIs anything worrying you about the child right now?",
        reply_markup=yes_no("has_worries"),
    )
    return HAS_WORRIES


async def ask_since_when(message: Message) -> int:
    await message.reply_text(
        "Worries\n\nSince when has this been going on?", reply_markup=InlineKeyboardMarkup([SKIP])
    )
    return SINCE_WHEN


async def ask_who_knows(message: Message) -> int:
    await message.reply_text(
        "Worries\n\nWho else knows about it (parents, teacher, neighbours)?",
        reply_markup=InlineKeyboardMarkup([SKIP]),
    )
    return WHO_KNOWS


async def ask_wants_call(message: Message) -> int:
    await message.reply_text(
        "Worries\n\nWould you like the social worker to call you this week?",
        reply_markup=yes_no("wants_call"),
    )
    return WANTS_CALL


async def show_review(message: Message, context: ContextTypes.DEFAULT_TYPE) -> int:
    lines = ["Please check your answers:", ""]
    for number, (key, value) in enumerate(answers(context).items(), start=1):
        shown = "Yes" if value is True else "No" if value is False else value
        lines.append(f"{number}. {LABELS[key]}: {shown}")
    lines += ["", "Press Submit to finish, or /cancel to stop."]
    keyboard = [[InlineKeyboardButton("✅ Submit", callback_data="submit")]]
    await message.reply_text("\n".join(lines), reply_markup=InlineKeyboardMarkup(keyboard))
    return REVIEW


async def tapped(update: Update, shown: str) -> tuple[str, Message]:
    """Answer the tap and edit the question to show the answer; the callback data and the
    message to reply to."""
    query = update.callback_query
    assert query is not None and isinstance(query.data, str)
    await query.answer()
    message = query.message
    assert isinstance(message, Message)
    await query.edit_message_text(text=f"{message.text}\n\n✓ {shown}")
    return query.data.split(":", 1)[-1], message


def typed(update: Update) -> tuple[str, Message]:
    message = update.message
    assert message is not None and message.text is not None
    return message.text, message


async def checkin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Start the check-in."""
    assert update.message is not None
    answers(context).clear()
    return await ask_mood(update.message)


async def mood(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    query = update.callback_query
    assert query is not None and isinstance(query.data, str)
    value = int(query.data.split(":")[1])
    _, message = await tapped(update, f"{value} {FACES[value - 1]}")
    answers(context)["mood"] = f"{value} {FACES[value - 1]}"
    return await ask_expression(message)


async def expression(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    query = update.callback_query
    assert query is not None and isinstance(query.data, str)
    value = query.data.split(":")[1]
    _, message = await tapped(update, EXPRESSIONS[value])
    answers(context)["expression"] = EXPRESSIONS[value]
    if value in ("cried", "kept_inside"):
        await message.reply_text(
            "3/6 · Mood\n\nWhat happened? A few words are enough.",
            reply_markup=InlineKeyboardMarkup([SKIP]),
        )
        return EXPRESSION_DETAIL
    return await ask_sleep(message)


async def expression_detail(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    text, message = typed(update)
    answers(context)["expression_detail"] = text
    return await ask_sleep(message)


async def skip_expression_detail(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    _, message = await tapped(update, "skipped")
    return await ask_sleep(message)


async def sleep(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    query = update.callback_query
    assert query is not None and isinstance(query.data, str)
    value = query.data.split(":")[1]
    _, message = await tapped(update, SLEEPS[value])
    answers(context)["sleep"] = SLEEPS[value]
    await message.reply_text(
        "Sleep and school\n\nHow many school days did the child miss this week?\n\n"
        "(Type 0 if none.)"
    )
    return SCHOOL_DAYS


async def school_days(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    text, message = typed(update)
    if not text.strip().isdecimal() or not 0 <= int(text) <= 7:
        await message.reply_text("⚠️ Please give a number of days from 0 to 7.")
        return SCHOOL_DAYS
    days = int(text)
    answers(context)["school_days_missed"] = days
    if days > 0:
        await message.reply_text(
            f"Sleep and school\n\nWhy did the child miss {days} day(s)?",
            reply_markup=InlineKeyboardMarkup([SKIP]),
        )
        return SCHOOL_NOTE
    return await ask_has_worries(message)


async def school_note(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    text, message = typed(update)
    answers(context)["school_note"] = text
    return await ask_has_worries(message)


async def skip_school_note(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    _, message = await tapped(update, "skipped")
    return await ask_has_worries(message)


async def has_worries(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    query = update.callback_query
    assert query is not None and isinstance(query.data, str)
    value = query.data.endswith(":yes")
    _, message = await tapped(update, "Yes" if value else "No")
    answers(context)["has_worries"] = value
    if value:
        await message.reply_text(
            "Worries\n\nWhat is worrying you? You can type or send a voice message."
        )
        return WORRIES
    return await show_review(message, context)


async def worries(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    text, message = typed(update)
    answers(context)["worries"] = text
    return await ask_since_when(message)


async def since_when(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    text, message = typed(update)
    answers(context)["since_when"] = text
    return await ask_who_knows(message)


async def skip_since_when(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    _, message = await tapped(update, "skipped")
    return await ask_who_knows(message)


async def who_knows(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    text, message = typed(update)
    answers(context)["who_knows"] = text
    return await ask_wants_call(message)


async def skip_who_knows(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    _, message = await tapped(update, "skipped")
    return await ask_wants_call(message)


async def wants_call(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    query = update.callback_query
    assert query is not None and isinstance(query.data, str)
    value = query.data.endswith(":yes")
    _, message = await tapped(update, "Yes" if value else "No")
    answers(context)["wants_call"] = value
    return await show_review(message, context)


async def submit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Keep the finished check-in in user_data and end the conversation."""
    query = update.callback_query
    assert query is not None and isinstance(query.message, Message)
    await query.answer()
    assert context.user_data is not None
    context.user_data.setdefault("checkins", []).append(dict(answers(context)))
    answers(context).clear()
    await query.message.reply_text("Thank you, all done. Your answers are saved.")
    return ConversationHandler.END


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert update.message is not None
    answers(context).clear()
    await update.message.reply_text("Stopped. Send /checkin to start again.")
    return ConversationHandler.END


def main() -> None:
    """Run the bot."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", help="the Bot API base URL, e.g. http://127.0.0.1:PORT/bot")
    parser.add_argument("--persistence", default="checkinbot.pickle", help="the pickle file")
    args = parser.parse_args()
    token = os.environ.get("TELEGRAM_BOT_TOKEN")
    if not token:
        raise SystemExit("set TELEGRAM_BOT_TOKEN")

    persistence = PicklePersistence(filepath=args.persistence)
    builder = Application.builder().token(token).persistence(persistence)
    if args.base_url:
        builder = builder.base_url(args.base_url).base_file_url(
            args.base_url.replace("/bot", "/file/bot")
        )
    application = builder.build()

    text = filters.TEXT & ~filters.COMMAND
    conv_handler = ConversationHandler(
        entry_points=[CommandHandler("checkin", checkin)],
        states={
            MOOD: [CallbackQueryHandler(mood, pattern="^mood:[1-5]$")],
            EXPRESSION: [
                CallbackQueryHandler(
                    expression, pattern="^expression:(told|cried|kept_inside|not_upset)$"
                )
            ],
            EXPRESSION_DETAIL: [
                MessageHandler(text, expression_detail),
                CallbackQueryHandler(skip_expression_detail, pattern="^skip$"),
            ],
            SLEEP: [CallbackQueryHandler(sleep, pattern="^sleep:(well|some_bad_nights|badly)$")],
            SCHOOL_DAYS: [MessageHandler(text, school_days)],
            SCHOOL_NOTE: [
                MessageHandler(text, school_note),
                CallbackQueryHandler(skip_school_note, pattern="^skip$"),
            ],
            HAS_WORRIES: [CallbackQueryHandler(has_worries, pattern="^has_worries:(yes|no)$")],
            WORRIES: [MessageHandler(text, worries)],
            SINCE_WHEN: [
                MessageHandler(text, since_when),
                CallbackQueryHandler(skip_since_when, pattern="^skip$"),
            ],
            WHO_KNOWS: [
                MessageHandler(text, who_knows),
                CallbackQueryHandler(skip_who_knows, pattern="^skip$"),
            ],
            WANTS_CALL: [CallbackQueryHandler(wants_call, pattern="^wants_call:(yes|no)$")],
            REVIEW: [CallbackQueryHandler(submit, pattern="^submit$")],
        },
        fallbacks=[CommandHandler("cancel", cancel), CommandHandler("checkin", checkin)],
        name="checkin",
        persistent=True,
    )
    application.add_handler(conv_handler)

    # Run the bot until the user presses Ctrl-C
    application.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
