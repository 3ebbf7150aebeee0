"""Records rendered from stored data: session records, case summaries, pre/post reports and
informal-contact logs (Markdown, HTML, JSON), tidy exports, and the hooks a chat channel
uses to send them."""

from templates.export import export
from templates.hooks import telegram_hooks
from templates.render import FORMATS, KINDS, Renderer, RenderError

__all__ = ["FORMATS", "KINDS", "RenderError", "Renderer", "export", "telegram_hooks"]
