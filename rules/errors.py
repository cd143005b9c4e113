"""The one exception family of the rule language.

Every failure the language can produce (bad syntax, a type error, a limit, a run-time error) is a
``RuleError``; callers catch that one class. Errors raised while *checking* a rule carry a JSON
pointer (RFC 6901) to the offending node of the rule's JSON document, so that an editor or an API
client can show the error where it belongs.
"""

from __future__ import annotations


class RuleError(Exception):
    """Base class: anything wrong with a rule or its evaluation."""

    code = "rule_error"

    def __init__(self, message: str, *, pointer: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.pointer = pointer

    def __str__(self) -> str:
        return f"{self.message} (at {self.pointer})" if self.pointer else self.message

    def as_dict(self) -> dict[str, str]:
        """The error as data: ``{code, message, pointer}``."""
        return {"code": self.code, "message": self.message, "pointer": self.pointer}


class RuleSyntaxError(RuleError):
    """The text or JSON is not a well-formed expression."""

    code = "syntax_error"


class RuleTypeError(RuleError):
    """The expression is well formed but its parts do not fit together."""

    code = "type_error"


class NoMatchingFunction(RuleTypeError):
    """No overload of a function takes these arguments (Talang's ``FunctionNotFoundError``)."""

    code = "no_matching_function"


class UnknownAttribute(RuleTypeError):
    """A path reads an attribute that the catalogue does not have."""

    code = "unknown_attribute"


class RuleLimitExceeded(RuleError):
    """A rule is too large or too deep, or its evaluation ran out of steps."""

    code = "limit_exceeded"


class RuleRuntimeError(RuleError):
    """Evaluation failed (a missing attribute, an invalid regular expression, …)."""

    code = "runtime_error"
