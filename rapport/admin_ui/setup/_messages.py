"""A service's message as the Setup pages show it: a sentence."""

from __future__ import annotations


def sentence(message: str) -> str:
    """``message`` with a capital first letter and a full stop."""
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
