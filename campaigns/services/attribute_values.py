"""Custom attribute values sent to the services (a coupon's, a referral's), checked against the
application's definitions and turned into what the JSON columns store.

A value must be defined for its entity and of its type; numbers and times are stored as their
text (``stored_value``), so that no digit of a number is lost and a time keeps its zone. The
services wrap the problem in their own exception (``coupon_attributes_checked``,
``referral_attributes_checked``), naming the field at fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from django.utils import timezone

from campaigns.evaluation import stored_value
from campaigns.models import Application
from campaigns.selectors import attribute_schema
from rules.values import parse_rfc3339


def attribute_definitions(application: Application, entity: str) -> Mapping[str, str]:
    """The application's custom attributes of ``entity`` (``"Coupon"``, ``"Referral"``): name
    → type name."""
    declared = attribute_schema(application=application).declared
    return declared.get(entity, {})


def attributes_read(
    raw: Any, definitions: Mapping[str, str], *, entity: str = "Coupon"
) -> tuple[dict[str, Any], str | None]:
    """``raw`` as stored attributes (decimals and times as text), or a problem to report:
    an attribute that ``definitions`` (of ``entity``) lacks, or a value not of its type."""
    if not isinstance(raw, Mapping):
        return {}, "is an object"
    stored: dict[str, Any] = {}
    for name, value in raw.items():
        type_name = definitions.get(name)
        if type_name is None:
            return {}, (f"{name!r} is not a custom attribute of {entity.lower()}s: define it first")
        if value is None:
            stored[name] = None
            continue
        if type_name.startswith("(list "):
            item_type = type_name[len("(list ") : -1]
            items = value if isinstance(value, list) else None
            read = None if items is None else [_attribute_value(item_type, i) for i in items]
            if read is None or any(item is _BAD for item in read):
                return {}, f"{name!r} is a list of {item_type}s"
            stored[name] = stored_value(read)
            continue
        single = _attribute_value(type_name, value)
        if single is _BAD:
            return {}, f"{name!r} is a {type_name}"
        stored[name] = stored_value(single)
    return stored, None


_BAD: Final = object()


def _attribute_value(type_name: str, value: Any) -> Any:
    """The value as its type's Python value, or ``_BAD``."""
    if type_name in ("string", "location"):
        return value if isinstance(value, str) else _BAD
    if type_name == "boolean":
        return value if isinstance(value, bool) else _BAD
    if type_name == "number":
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            return _BAD
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        return number if number.is_finite() else _BAD
    if type_name == "time":
        if isinstance(value, datetime):
            return value if timezone.is_aware(value) else _BAD
        parsed = parse_rfc3339(value) if isinstance(value, str) else None
        return _BAD if parsed is None else parsed
    return _BAD
