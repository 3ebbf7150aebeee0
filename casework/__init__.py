"""The application layer: identity, the access policy, and the actions every channel calls.

Channels (``bot/`` for Telegram, the terminal and the command line; ``desk/`` for the
browser) translate a message, button, form or command into one call here; this layer
resolves the person, asks the access policy, runs the action through the engine and
storage in one transaction, and audits it.
"""
