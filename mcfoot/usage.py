"""The footprint of one API call from its ``usage`` block (a plain dict; no SDK needed).

Token fields of the three common response shapes (as their API references define them):

* OpenAI Chat Completions: ``prompt_tokens`` (cached prompt tokens included) and
  ``completion_tokens``, which already counts reasoning tokens
  (``completion_tokens_details.reasoning_tokens`` is a breakdown of it, "counted in the
  total completion tokens"). OpenAI Responses: ``input_tokens`` / ``output_tokens`` with
  ``output_tokens_details.reasoning_tokens`` likewise inside ``output_tokens``.
* Anthropic Messages: ``input_tokens`` counts only the uncached part of the prompt;
  ``cache_creation_input_tokens`` and ``cache_read_input_tokens`` are the rest, so the
  prompt is their sum. ``output_tokens`` includes extended-thinking tokens.
* Gemini ``usageMetadata``: ``promptTokenCount`` (cached content included),
  ``toolUsePromptTokenCount``, ``candidatesTokenCount`` and ``thoughtsTokenCount``, a
  separate bucket (``totalTokenCount`` is the sum of all four).

Input tokens enter the footprint through the latency interpolation of
:func:`mcfoot.estimate`; cached prompt tokens are counted like the others (the catalogue's
latencies do not tell cache hits apart).
"""

from __future__ import annotations

from collections.abc import Mapping

from .errors import InputError
from . import estimate

__all__ = ["estimate_usage", "usage_tokens"]

_OPENAI_CHAT = ("prompt_tokens", "completion_tokens")
_GEMINI = ("promptTokenCount", "candidatesTokenCount")


def _count(usage: Mapping, key: str, required: bool = True) -> int:
    v = usage.get(key, None if required else 0)
    if v is None and not required:
        return 0
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise InputError(f"usage[{key!r}] = {v!r} must be a whole number of tokens >= 0")
    return int(v)


def usage_tokens(usage: Mapping) -> tuple[int, int, str]:
    """``(input_tokens, output_tokens, style)`` of a ``usage`` dict; ``style`` is
    ``"openai-chat"``, ``"openai-responses"``, ``"anthropic"`` or ``"gemini"``."""
    if hasattr(usage, "model_dump"):  # an SDK object given anyway: its plain dict
        usage = usage.model_dump()
    if not isinstance(usage, Mapping):
        raise InputError(f"usage must be a dict (the 'usage' block of an API response), got "
                         f"{type(usage).__name__}")
    if "usageMetadata" in usage and isinstance(usage["usageMetadata"], Mapping):
        usage = usage["usageMetadata"]
    if all(k in usage for k in _OPENAI_CHAT):
        return _count(usage, "prompt_tokens"), _count(usage, "completion_tokens"), \
            "openai-chat"
    if all(k in usage for k in _GEMINI):
        t_in = _count(usage, "promptTokenCount") + _count(usage, "toolUsePromptTokenCount",
                                                          False)
        t_out = _count(usage, "candidatesTokenCount") + _count(usage, "thoughtsTokenCount",
                                                               False)
        return t_in, t_out, "gemini"
    if "input_tokens" in usage and "output_tokens" in usage:
        anthropic = any(k in usage for k in ("cache_creation_input_tokens",
                                             "cache_read_input_tokens", "cache_creation"))
        if anthropic or "input_tokens_details" not in usage:
            t_in = _count(usage, "input_tokens") + \
                _count(usage, "cache_creation_input_tokens", False) + \
                _count(usage, "cache_read_input_tokens", False)
            return t_in, _count(usage, "output_tokens"), "anthropic"
        return _count(usage, "input_tokens"), _count(usage, "output_tokens"), \
            "openai-responses"
    raise InputError(f"usage has none of the known token fields (keys: "
                     f"{', '.join(map(str, usage)) or 'none'}); give the 'usage' block of an "
                     f"OpenAI (prompt_tokens, completion_tokens), Anthropic (input_tokens, "
                     f"output_tokens) or Gemini (usageMetadata) response")


def estimate_usage(usage: Mapping, model: str, **kwargs):
    """:func:`mcfoot.estimate` for the tokens of an API call's ``usage`` block.

    ``model``: the catalogue model id that served the call. ``kwargs`` go to ``estimate``
    (``scenario``, ``draws``, ``seed``, ``catalogue``, ...). The result's attrs record the
    tokens read and the usage style.
    """
    t_in, t_out, style = usage_tokens(usage)
    ds = estimate(model, t_out, t_in, **kwargs)
    ds.attrs.update({"usage_style": style, "usage_input_tokens": t_in,
                     "usage_output_tokens": t_out})
    return ds
