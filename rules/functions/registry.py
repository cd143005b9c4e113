"""The registry of the language's functions: one definition per function, used everywhere.

A function is a list of *overloads* tried in order (Talang's dispatch). An overload declares the
kinds of its parameters, an optional repeating tail, the kind it returns, and its implementation:

- a plain Python callable taking evaluated values (``impl(*values)``), or, with ``stateful``,
  ``impl(state, *values)`` for functions that read the clock, spend steps or emit effects;
- optionally an ``inline`` Python expression template (``"({0} > {1})"``) that the code generator
  uses when the argument kinds are known statically. Templates are written here, by us; user text
  only ever reaches generated code as a constant handed in by name, never as source.

Special forms (``catch``, ``map``, ``.`` …) take some arguments unevaluated; they register a
``SpecialForm`` whose ``compile`` hook generates their code from the AST.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rules.types import Kind

if TYPE_CHECKING:
    from rules.ast import Call
    from rules.compiler import Code, Compiler


@dataclass(frozen=True, slots=True)
class Overload:
    """One signature of a function and how to run it."""

    name: str
    params: tuple[Kind, ...]
    returns: Kind
    impl: Callable[..., Any]
    rest: Kind | None = None
    """The kind of a repeating tail of arguments (zero or more), or None when not variadic."""
    inline: str | None = None
    """A Python expression template over ``{0}``, ``{1}`` …, used when kinds are static.
    A variadic overload's template may use ``{rest}``: the tail joined with ``, ``."""
    stateful: bool = False
    """The implementation takes the evaluation ``State`` as its first argument."""
    pure: bool = True
    """Same arguments, same result, no effects: eligible for constant folding."""
    doc: str = ""
    category: str = "core"

    def accepts_arity(self, count: int) -> bool:
        if self.rest is None:
            return count == len(self.params)
        return count >= len(self.params)

    def param_kind(self, index: int) -> Kind:
        if index < len(self.params):
            return self.params[index]
        assert self.rest is not None
        return self.rest

    def signature(self) -> str:
        parts = [k.describe() for k in self.params]
        if self.rest is not None:
            parts.append(f"{self.rest.describe()}…")
        return f"({self.name} {' '.join(parts)}) → {self.returns.describe()}"


@dataclass(frozen=True, slots=True)
class SpecialForm:
    """A function that receives (some of) its arguments unevaluated and compiles itself."""

    name: str
    compile: Callable[[Compiler, Call], Code]
    returns: Kind = Kind.ANY
    doc: str = ""
    signature: str = ""
    category: str = "core"


@dataclass
class Registry:
    """Functions by lower-case name (Talang matches names case-insensitively)."""

    overloads: dict[str, list[Overload]] = field(default_factory=dict)
    special_forms: dict[str, SpecialForm] = field(default_factory=dict)

    def add(self, overload: Overload) -> Overload:
        key = overload.name.lower()
        if key in self.special_forms:
            raise ValueError(f"{overload.name} is already a special form")
        self.overloads.setdefault(key, []).append(overload)
        return overload

    def add_special(self, form: SpecialForm) -> SpecialForm:
        key = form.name.lower()
        if key in self.special_forms or key in self.overloads:
            raise ValueError(f"{form.name} is already defined")
        self.special_forms[key] = form
        return form

    def function(
        self,
        name: str,
        params: tuple[Kind, ...],
        returns: Kind,
        *,
        rest: Kind | None = None,
        inline: str | None = None,
        stateful: bool = False,
        pure: bool = True,
        doc: str = "",
        category: str = "core",
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator form of ``add``: ``@registry.function("+", (D, D), D, rest=D)``."""

        def register(impl: Callable[..., Any]) -> Callable[..., Any]:
            self.add(
                Overload(
                    name=name,
                    params=params,
                    returns=returns,
                    impl=impl,
                    rest=rest,
                    inline=inline,
                    stateful=stateful,
                    pure=pure and not stateful,
                    doc=doc or (impl.__doc__ or "").strip(),
                    category=category,
                )
            )
            return impl

        return register

    def lookup(self, name: str) -> list[Overload] | SpecialForm | None:
        key = name.lower()
        form = self.special_forms.get(key)
        if form is not None:
            return form
        return self.overloads.get(key)

    def names(self) -> list[str]:
        spelled = {o[0].name for o in self.overloads.values()}
        spelled |= {f.name for f in self.special_forms.values()}
        return sorted(spelled, key=str.lower)


REGISTRY = Registry()
"""The language's functions. Modules under ``rules/functions/`` register into it on import."""
