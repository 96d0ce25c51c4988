"""Prompt layouts: chat messages for chat models, a few-shot completion for base models.

A base model (such as the embedded Gemma 3 270M) has no chat template. Measured on that model, a
chat layout put about 1% of the next-token mass on Yes/No while the few-shot ``Q:``/``A:`` layout
below put about 99% there, so the local backend uses it whenever the model file carries no chat
template.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["chat_messages", "completion_prompt", "COMPLETION_STOP"]

#: Stop strings of the completion layout: the answer ends where the next question would begin.
COMPLETION_STOP = ["\n\n", "\nQ:"]


def chat_messages(system: str | None, examples: Sequence[tuple[str, str]],
                  question: str) -> list[dict[str, str]]:
    """Chat messages: the system message, each example as a user/assistant pair, the question.

    Examples
    --------
    >>> chat_messages("Be brief.", [("Is the sky blue?", "Yes")], "Is grass red?")[-1]
    {'role': 'user', 'content': 'Is grass red?'}
    """
    messages = []
    if system:
        messages.append({"role": "system", "content": system})
    for q, a in examples:
        messages.append({"role": "user", "content": q})
        messages.append({"role": "assistant", "content": a})
    messages.append({"role": "user", "content": question})
    return messages


def completion_prompt(system: str | None, examples: Sequence[tuple[str, str]],
                      question: str) -> str:
    """The few-shot completion layout for base models.

    The system text, a blank line, each example as ``Q: ...`` / ``A: ...`` followed by a blank
    line, and the question ending in ``A:``. The answer's first token is then the alternative
    with a leading space (``" Yes"``).

    Examples
    --------
    >>> print(completion_prompt(None, [("Is the sky blue?", "Yes")], "Is grass red?"))
    Q: Is the sky blue?
    A: Yes
    <BLANKLINE>
    Q: Is grass red?
    A:
    """
    parts = []
    if system:
        parts.append(system.strip() + "\n\n")
    for q, a in examples:
        parts.append(f"Q: {q}\nA: {a}\n\n")
    parts.append(f"Q: {question}\nA:")
    return "".join(parts)
