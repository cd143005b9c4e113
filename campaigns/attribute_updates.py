"""``updateAttribute`` effects made true: the session and profile attributes they set.

A rule sets a custom attribute of the session or of the profile with
``(updateAttribute "Profile.Attributes.Tier" "Gold")``. The service that evaluated it applies the
update in the same transaction as the rest of the evaluation (so a dry run shows it and keeps
nothing), and the effect is in the response, as in Talon.One, for the shop to mirror.

An update applies when its path is ``Session.Attributes.<name>`` or ``Profile.Attributes.<name>``,
``<name>`` is a custom attribute the application defined for that entity, the value is of the
attribute's type (or null), and there is such an entity in the evaluation (an anonymous session
has no profile; a profile update or an event has no session). Otherwise the effect is left out
and its rule gets a failure saying why; the rule's other effects stand. Saving a ruleset already
refuses a literal path that names no defined attribute (``campaigns.services.rulesets``), so
these are the cases a computed path or value let through.

Several updates of one attribute apply in evaluation order: the last one wins. Updates are not
rolled back when a session is cancelled or returned (Talon.One has no rollback effect for them).

This module is pure: it decides what changes; the services write it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from campaigns.evaluation import stored_value
from rules.effects import UpdateAttribute
from rules.engine import FiredEffect, RuleFailure
from rules.errors import RuleRuntimeError
from rules.types import Kind, Type, kind_of

ENTITIES: Final = {"Session": "CustomerSession", "Profile": "CustomerProfile"}
"""The roots an update may name, and the entity (as attribute definitions spell it) of each."""


@dataclass(frozen=True, slots=True)
class AttributeChanges:
    """Attribute name → new value (as stored in JSON), per entity."""

    session: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)


def attribute_path(path: str) -> tuple[str, str] | None:
    """``("Profile", "Tier")`` for ``"Profile.Attributes.Tier"``; None for any other shape."""
    root, _, rest = path.partition(".")
    middle, _, name = rest.partition(".")
    if root not in ENTITIES or middle != "Attributes" or not name or "." in name:
        return None
    return root, name


def attribute_changes(
    effects: Iterable[FiredEffect],
    *,
    types: Mapping[str, Mapping[str, Type]],
    roots: Sequence[str],
) -> tuple[list[FiredEffect], list[RuleFailure], AttributeChanges]:
    """Split ``effects``: the ones that apply (all but the attribute updates that cannot), a
    failure for each update that cannot, and the changes the others make. ``roots`` are the
    entities this evaluation has (``"Session"``, ``"Profile"``)."""
    kept: list[FiredEffect] = []
    failures: list[RuleFailure] = []
    changes = AttributeChanges()
    for fired in effects:
        effect = fired.effect
        if type(effect) is not UpdateAttribute:
            kept.append(fired)
            continue
        problem = _problem(effect, types=types, roots=roots)
        if problem is not None:
            failures.append(RuleFailure(fired.rule, RuleRuntimeError(problem)))
            continue
        root, name = attribute_path(effect.path) or ("", "")
        target = changes.session if root == "Session" else changes.profile
        target[name] = stored_value(effect.value)
        kept.append(fired)
    return kept, failures, changes


def _problem(
    effect: UpdateAttribute, *, types: Mapping[str, Mapping[str, Type]], roots: Sequence[str]
) -> str | None:
    """Why ``effect`` cannot apply, or None when it can."""
    parsed = attribute_path(effect.path)
    if parsed is None:
        return (
            f"cannot update {effect.path!r}: an update names Session.Attributes.<name> "
            "or Profile.Attributes.<name>"
        )
    root, name = parsed
    if root not in roots:
        what = "no customer profile" if root == "Profile" else "no session"
        return f"cannot update {effect.path!r}: this evaluation has {what}"
    type_ = types.get(ENTITIES[root], {}).get(name)
    if type_ is None:
        return f"cannot update {effect.path!r}: {root} has no custom attribute {name!r}"
    if not _fits(effect.value, type_):
        return (
            f"cannot update {effect.path!r}: it holds a {type_.kind.describe()}, "
            f"not {_describe(effect.value)}"
        )
    return None


def _fits(value: Any, type_: Type) -> bool:
    if value is None:
        return True
    try:
        kind = kind_of(value)
    except TypeError:
        return False
    if not kind & type_.kind:
        return False
    if kind == Kind.LIST and type_.item is not None:
        return all(_fits(item, type_.item) for item in value)
    return True


def _describe(value: Any) -> str:
    try:
        return f"a {kind_of(value).describe()}"
    except TypeError:
        return type(value).__name__
