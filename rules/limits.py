"""Named limits of the rule language.

They bound what one rule may cost to check, compile and evaluate, so that hostile or careless input
is refused with a ``RuleLimitExceeded`` instead of exhausting the process.
"""

from __future__ import annotations

MAX_DEPTH = 48
"""Deepest nesting of expressions in one rule (Talon.One rules rarely pass 15)."""

MAX_NODES = 5_000
"""Most expression nodes (calls and atoms) in one rule."""

MAX_SOURCE_BYTES = 256 * 1024
"""Largest rule text (JSON or Lisp form) accepted by the parsers."""

MAX_STEPS = 200_000
"""Evaluation step budget: loop iterations over lists (``map``, ``filter``, ``exists``, …) and
calls into the run-time library, counted per evaluation of one expression or rule."""

MAX_REGEX_BYTES = 1_000
"""Longest regular expression; patterns are compiled with RE2, so matching is linear in time."""

MAX_STRING_BYTES = 1_000_000
"""Longest string an evaluation may build (``+`` on strings, ``join``)."""

MAX_LIST_LENGTH = 100_000
"""Longest list an evaluation may build (``list``, ``push``, ``append``, ``split``)."""

MAX_TEMPLATE_EXPANSIONS = 1_000
"""Most template expansions (``!``) while compiling one expression; templates cannot recurse."""
