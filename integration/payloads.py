"""Parsing the Integration API's request bodies into typed, immutable values.

The bodies parsed here, each into a frozen, slotted dataclass:

- ``PUT /v2/customer_sessions/{id}`` → ``parse_session_update`` → ``SessionUpdate``;
- ``PUT /v2/customer_profiles/{id}`` → ``parse_profile_update`` → ``ProfileUpdate``;
- ``PUT /v2/customer_profiles`` → ``parse_profiles_batch`` → ``ProfileAttributes`` each;
- ``POST /v2/events`` → ``parse_event`` → ``EventInput``;
- ``POST /v2/customer_sessions/{id}/returns`` → ``parse_return`` → ``CartReturn``.

This is the hot path's input validation (DESIGN.md §4 step 1, §7): plain ``dict``/``type``
checks in one pass over the body, with no ORM, no DRF and no serializer layers. Every problem is
collected, not just the first, as a ``Problem``: ``(pointer, title, details)``, where ``pointer``
is a JSON pointer into the body (``/customerSession/cartItems/3/quantity``). If there is any,
the parser raises one ``PayloadError`` carrying them all; the API layer turns it into
Talon.One's 400 body ``{message, errors: [{title, details, source: {pointer}}]}``.

What the parsers expect and decide:

- **JSON numbers arrive as ``int`` or ``Decimal``.** The caller decodes the body with
  ``json.loads(body, parse_float=Decimal)``, so a price is exactly the text the shop sent. A
  ``float`` is refused: only ``NaN``/``Infinity`` (which ``json.loads`` lets through, though
  they are not JSON) or a programming error can produce one, and money is never a float. A
  ``bool`` is refused wherever a number is expected (``True`` is an ``int`` in Python). Numbers
  must lie below 10**14 in magnitude (the database keeps 14 integer digits) and, unless zero, at
  or above 10⁻¹²; a decimal with a huge exponent (``1E+999999``) would otherwise be a few bytes
  in the request and a megabyte in the answer, or overflow the arithmetic.
- **Integers are JSON integers.** ``2.0`` is not a quantity (Talon.One, written in Go, refuses
  it too); ids are between 1 and 2**63 - 1.
- **Omitted and ``null`` mean "not sent"; empty means "clear".** Each optional field is
  ``None`` when the body did not carry it, so that the service keeps the stored value, and an
  empty value when it did: ``couponCodes: []`` discards the session's coupon codes, an omitted
  ``couponCodes`` keeps them; ``referralCode: ""`` discards the referral code.
- **Unknown fields are ignored**, as Talon.One ignores them: a newer SDK may send fields this
  server does not know, and a shop may echo back a session it received (with its ``total``,
  ``created`` …). That includes the cart items' read-only fields (``position``,
  ``returnedQuantity``, ``remainingQuantity``, ``catalogItemID``, ``prices`` …): the server
  computes them, so what a request says about them is never read.
- **Attributes must be defined first.** Talon.One answers 400 for an attribute missing from the
  application's attribute library; so do we. ``custom_attributes`` maps an entity
  (``"CustomerSession"``, ``"CartItem"``, ``"CustomerProfile"``, ``"Event"``) to its attributes'
  names and types, spelled as stored (``"number"``, ``"(list string)"`` …; see
  ``campaigns.models.attributes``). Talon.One's *built-in* attributes are entries of that same
  library (the Management API lists them with ``kind=builtin``), so none are accepted here
  without a definition: the caller passes every attribute the application has, built-in or
  custom. Values are checked against the type: numbers become ``Decimal``, times are parsed
  from RFC 3339 into aware ``datetime`` values, locations are text; ``null`` is accepted for
  any attribute and stays ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, TypeVar

from rules.records import positional_record
from rules.values import parse_rfc3339

# --------------------------------------------------------------------------------------------
# Problems

Problem = tuple[str, str, str]
"""One thing wrong with a request body: ``(pointer, title, details)``."""

TITLE_REQUIRED: Final = "Missing value"
TITLE_TYPE: Final = "Invalid type"
TITLE_VALUE: Final = "Invalid value"
TITLE_LIMIT: Final = "Limit exceeded"
TITLE_UNKNOWN_ATTRIBUTE: Final = "Unknown attribute"
TITLE_UNKNOWN_COST: Final = "Unknown additional cost"


class PayloadError(ValueError):
    """A request body that cannot be used, with every problem found in it."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        count = len(self.problems)
        first = f": {self.problems[0][0] or '/'} {self.problems[0][2]}" if count else ""
        super().__init__(f"invalid request body ({count} problem{'s' * (count != 1)}){first}")


# --------------------------------------------------------------------------------------------
# Limits (Talon.One's, from the Integration API reference, unless marked as ours)

MAX_CART_ITEMS: Final = 1_000
MAX_TOTAL_QUANTITY: Final = 10_000
"""The sum of the cart items' quantities (each unit becomes one item when the cart is
flattened)."""
MAX_COUPON_CODES: Final = 100
MAX_CODE_LENGTH: Final = 100
"""Of a coupon code and of a referral code."""
MAX_LOYALTY_CARDS: Final = 1
MAX_LOYALTY_CARD_LENGTH: Final = 108
MAX_IDENTIFIERS: Final = 5
MAX_IDENTIFIER_LENGTH: Final = 1_000
"""Ours: the reference sets none; identifiers are stored and counted like integration ids."""
MAX_INTEGRATION_ID_LENGTH: Final = 1_000
MAX_TEXT_LENGTH: Final = 1_000
"""Ours: a cart item's name, SKU, category and product name (the width of their columns)."""
MAX_EVENT_TYPE_LENGTH: Final = 255
MAX_PROFILES_PER_BATCH: Final = 1_000
NUMBER_MAX_EXPONENT: Final = 14
"""Ours: numbers are below 10**14 in magnitude (the database keeps 14 integer digits)."""
NUMBER_MIN_EXPONENT: Final = -12
"""Ours: a non-zero number's leading digit is at 10**-12 or above."""
MAX_ID: Final = 2**63 - 1

SETTABLE_SESSION_STATES: Final = frozenset({"open", "closed", "cancelled"})
"""``partially_returned`` is a state too, but only the returns endpoint sets it."""

SESSION_RESPONSE_CONTENT: Final = frozenset(
    {
        "customerSession",
        "customerProfile",
        "coupons",
        "triggeredCampaigns",
        "referral",
        "loyalty",
        "event",
        "awardedGiveaways",
        "ruleFailureReasons",
        "previousReturns",
        "campaignEligibility",
    }
)
PROFILE_RESPONSE_CONTENT: Final = frozenset(
    {
        "customerProfile",
        "triggeredCampaigns",
        "loyalty",
        "event",
        "awardedGiveaways",
        "ruleFailureReasons",
        "campaignEligibility",
    }
)
EVENT_RESPONSE_CONTENT: Final = PROFILE_RESPONSE_CONTENT

ENTITY_SESSION: Final = "CustomerSession"
ENTITY_CART_ITEM: Final = "CartItem"
ENTITY_PROFILE: Final = "CustomerProfile"
ENTITY_EVENT: Final = "Event"

# --------------------------------------------------------------------------------------------
# The parsed values

_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})
_T = TypeVar("_T")


@positional_record
class CartItemInput:
    """One cart item as the shop sent it. ``None`` marks a field the item did not carry."""

    sku: str
    quantity: int
    name: str | None = None
    price: Decimal | None = None
    category: str | None = None
    product_name: str | None = None
    """``product.name``."""
    weight: Decimal | None = None
    """In grams."""
    height: Decimal | None = None
    """In millimetres, as are ``width`` and ``length``."""
    width: Decimal | None = None
    length: Decimal | None = None
    attributes: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    additional_costs: Mapping[str, Decimal] = field(default_factory=lambda: _EMPTY)
    """Cost name → price (``{"shipping": {"price": 9}}`` → ``{"shipping": Decimal(9)}``)."""


@dataclass(frozen=True, slots=True)
class ExperimentAllocation:
    """``experimentVariantAllocations[]``: the variant of an experiment the session is in."""

    experiment_id: int
    variant_id: int


@dataclass(frozen=True, slots=True)
class SessionUpdate:
    """The body of ``PUT /v2/customer_sessions/{id}``.

    Every field but ``response_content`` is ``None`` when the body did not carry it (keep what
    the session has) and empty when it carried an empty value (clear it).
    """

    profile_id: str | None = None
    """``""`` is an anonymous session."""
    store_integration_id: str | None = None
    evaluable_campaign_ids: tuple[int, ...] | None = None
    coupon_codes: tuple[str, ...] | None = None
    referral_code: str | None = None
    loyalty_cards: tuple[str, ...] | None = None
    state: str | None = None
    """``open``, ``closed`` or ``cancelled``."""
    cart_items: tuple[CartItemInput, ...] | None = None
    additional_costs: Mapping[str, Decimal] | None = None
    identifiers: tuple[str, ...] | None = None
    attributes: Mapping[str, Any] | None = None
    experiment_variant_allocations: tuple[ExperimentAllocation, ...] | None = None
    response_content: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class AudiencesChanges:
    """``audiencesChanges``: the audiences a customer joins and leaves."""

    adds: tuple[int, ...]
    deletes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ProfileUpdate:
    """The body of ``PUT /v2/customer_profiles/{integrationId}``."""

    attributes: Mapping[str, Any] | None = None
    audiences_changes: AudiencesChanges | None = None
    evaluable_campaign_ids: tuple[int, ...] | None = None
    response_content: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ProfileAttributes:
    """One profile of ``PUT /v2/customer_profiles``: whom, and the attributes to merge."""

    integration_id: str
    attributes: Mapping[str, Any] | None = None
    """``None`` when the profile carried none (its attributes stay as they are)."""


@dataclass(frozen=True, slots=True)
class EventInput:
    """The body of ``POST /v2/events``: a custom event a customer caused."""

    profile_id: str
    """Required, although the reference's schema does not say so (its text does)."""
    type: str
    store_integration_id: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    evaluable_campaign_ids: tuple[int, ...] | None = None
    loyalty_cards: tuple[str, ...] | None = None
    response_content: frozenset[str] = frozenset()


# --------------------------------------------------------------------------------------------
# Readers of single values. Each returns the parsed value or a ``_Bad`` saying what is wrong;
# the caller, which knows the pointer, records the problem. (Building pointers only for bad
# values keeps the common case cheap.)


class _Bad:
    __slots__ = ("details", "suffix", "title")

    def __init__(self, title: str, details: str, suffix: str = "") -> None:
        self.title = title
        self.details = details
        self.suffix = suffix
        """A pointer suffix below the value read (``/2`` for a list's third element)."""


_ZERO: Final = Decimal(0)
_NUMBER_LIMIT: Final = 10**NUMBER_MAX_EXPONENT
_NOT_A_NUMBER = _Bad(TITLE_TYPE, "must be a number")
_BOOL_NOT_NUMBER = _Bad(TITLE_TYPE, "must be a number, not a boolean")
# Reaching a float means json.loads met NaN or Infinity (parse_float=Decimal turns every other
# number with a fraction or exponent into a Decimal), or that a caller decoded without
# parse_float, which would already have rounded the shop's prices. Neither is a number we can
# compute exactly with, so it is refused rather than converted.
_FLOAT = _Bad(TITLE_VALUE, "must be a finite number (NaN and Infinity are not JSON numbers)")
_TOO_LARGE = _Bad(TITLE_VALUE, f"must be less than 10^{NUMBER_MAX_EXPONENT} in magnitude")
_TOO_SMALL = _Bad(TITLE_VALUE, f"must be 0 or at least 10^{NUMBER_MIN_EXPONENT} in magnitude")
_NEGATIVE = _Bad(TITLE_VALUE, "must be 0 or more")
_NOT_A_STRING = _Bad(TITLE_TYPE, "must be a string")
_NOT_A_BOOLEAN = _Bad(TITLE_TYPE, "must be a boolean")
_NOT_A_TIME = _Bad(TITLE_VALUE, "must be an RFC 3339 time, such as 2024-05-29T15:04:05Z")
_NOT_A_LIST = _Bad(TITLE_TYPE, "must be an array")


def _number(value: Any, non_negative: bool) -> Any:
    """A JSON number as a ``Decimal``, or a ``_Bad``."""
    kind = type(value)
    if kind is Decimal:
        if not value.is_finite():
            return _FLOAT
        if not value:
            return _ZERO  # also 0E+20, 0E-999999 and -0: the same number, in a sane form
        exponent = value.adjusted()
        if exponent >= NUMBER_MAX_EXPONENT:
            return _TOO_LARGE
        if exponent < NUMBER_MIN_EXPONENT:
            return _TOO_SMALL
        if non_negative and value < 0:
            return _NEGATIVE
        return value
    if kind is int:
        if not -_NUMBER_LIMIT < value < _NUMBER_LIMIT:
            return _TOO_LARGE
        if non_negative and value < 0:
            return _NEGATIVE
        return Decimal(value)
    if kind is bool:
        return _BOOL_NOT_NUMBER
    if kind is float:
        return _FLOAT
    return _NOT_A_NUMBER


def _any_number(value: Any) -> Any:
    return _number(value, False)


def _string(value: Any) -> Any:
    return value if isinstance(value, str) else _NOT_A_STRING


def _boolean(value: Any) -> Any:
    return value if type(value) is bool else _NOT_A_BOOLEAN


def _time(value: Any) -> Any:
    if not isinstance(value, str):
        return _NOT_A_STRING
    moment = parse_rfc3339(value)
    return _NOT_A_TIME if moment is None else moment


def _list_of(read: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def read_list(value: Any) -> Any:
        if not isinstance(value, list):
            return _NOT_A_LIST
        parsed = []
        for index, element in enumerate(value):
            result = read(element)
            if type(result) is _Bad:
                return _Bad(result.title, result.details, f"/{index}")
            parsed.append(result)
        return parsed

    return read_list


_ATTRIBUTE_READERS: Final[Mapping[str, Callable[[Any], Any]]] = {
    "string": _string,
    "number": _any_number,
    "boolean": _boolean,
    "time": _time,
    "location": _string,
    "(list string)": _list_of(_string),
    "(list number)": _list_of(_any_number),
    "(list time)": _list_of(_time),
    "(list location)": _list_of(_string),
}
"""Attribute type (as stored in ``AttributeDefinition.type``) → reader of a value."""


def _escape(key: str) -> str:
    """A JSON pointer segment (RFC 6901): ``~`` → ``~0``, ``/`` → ``~1``."""
    if "~" in key or "/" in key:
        return key.replace("~", "~0").replace("/", "~1")
    return key


# --------------------------------------------------------------------------------------------
# Readers of fields. Each records its problems at ``pointer`` (or below it) and returns the
# parsed value, or None after a problem.


def _text(
    value: Any, pointer: str, problems: list[Problem], max_length: int, min_length: int = 0
) -> str | None:
    if not isinstance(value, str):
        problems.append((pointer, TITLE_TYPE, "must be a string"))
        return None
    if len(value) > max_length:
        problems.append((pointer, TITLE_LIMIT, f"must be at most {max_length} characters long"))
        return None
    if len(value) < min_length:
        problems.append((pointer, TITLE_VALUE, "must not be empty"))
        return None
    return value


def _texts(
    value: Any, pointer: str, problems: list[Problem], max_items: int, max_length: int
) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        problems.append((pointer, TITLE_TYPE, "must be an array of strings"))
        return None
    if len(value) > max_items:
        problems.append((pointer, TITLE_LIMIT, f"must have at most {max_items} items"))
        return None
    before = len(problems)
    for index, element in enumerate(value):
        if not isinstance(element, str):
            problems.append((f"{pointer}/{index}", TITLE_TYPE, "must be a string"))
        elif len(element) > max_length:
            problems.append(
                (
                    f"{pointer}/{index}",
                    TITLE_LIMIT,
                    f"must be at most {max_length} characters long",
                )
            )
    return tuple(value) if len(problems) == before else None


def _ids(value: Any, pointer: str, problems: list[Problem]) -> tuple[int, ...] | None:
    if not isinstance(value, list):
        problems.append((pointer, TITLE_TYPE, "must be an array of integers"))
        return None
    before = len(problems)
    for index, element in enumerate(value):
        if type(element) is not int:
            problems.append((f"{pointer}/{index}", TITLE_TYPE, "must be an integer"))
        elif not 1 <= element <= MAX_ID:
            problems.append((f"{pointer}/{index}", TITLE_VALUE, f"must be from 1 to {MAX_ID}"))
    return tuple(value) if len(problems) == before else None


def _response_content(value: Any, known: frozenset[str], problems: list[Problem]) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        problems.append(("/responseContent", TITLE_TYPE, "must be an array of strings"))
        return frozenset()
    before = len(problems)
    for index, element in enumerate(value):
        if not isinstance(element, str) or element not in known:
            problems.append(
                (
                    f"/responseContent/{index}",
                    TITLE_VALUE,
                    "must be one of " + ", ".join(sorted(known)),
                )
            )
    return frozenset(value) if len(problems) == before else frozenset()


def _attributes(
    value: Any,
    pointer: str,
    problems: list[Problem],
    definitions: Mapping[str, str],
    entity: str,
) -> dict[str, Any] | None:
    """An ``attributes`` object, every key defined for ``entity`` and of its type."""
    if not isinstance(value, dict):
        problems.append((pointer, TITLE_TYPE, "must be an object"))
        return None
    parsed: dict[str, Any] = {}
    for name, raw in value.items():
        type_name = definitions.get(name)
        if type_name is None:
            problems.append(
                (
                    f"{pointer}/{_escape(name)}",
                    TITLE_UNKNOWN_ATTRIBUTE,
                    f"{entity} has no attribute {name!r}: define it before sending it",
                )
            )
            continue
        if raw is None:
            parsed[name] = None
            continue
        read = _ATTRIBUTE_READERS.get(type_name)
        if read is None:  # a definition this module does not know: the caller's mistake
            raise ValueError(f"{entity}.{name} has an unknown attribute type {type_name!r}")
        result = read(raw)
        if type(result) is _Bad:
            problems.append(
                (
                    f"{pointer}/{_escape(name)}{result.suffix}",
                    result.title,
                    f"{result.details} ({entity}.{name} is of type {type_name})",
                )
            )
        else:
            parsed[name] = result
    return parsed


def _additional_costs(
    value: Any, pointer: str, problems: list[Problem], known: Collection[str] | None
) -> dict[str, Decimal] | None:
    """``{name: {price}}`` → ``{name: price}``."""
    if not isinstance(value, dict):
        problems.append((pointer, TITLE_TYPE, "must be an object"))
        return None
    parsed: dict[str, Decimal] = {}
    for name, cost in value.items():
        if known is not None and name not in known:
            problems.append(
                (
                    f"{pointer}/{_escape(name)}",
                    TITLE_UNKNOWN_COST,
                    f"there is no additional cost {name!r}: define it before sending it",
                )
            )
            continue
        if not isinstance(cost, dict):
            problems.append((f"{pointer}/{_escape(name)}", TITLE_TYPE, "must be an object"))
            continue
        price = cost.get("price")
        if price is None:
            problems.append((f"{pointer}/{_escape(name)}/price", TITLE_REQUIRED, "is required"))
            continue
        result = _number(price, True)
        if type(result) is _Bad:
            problems.append((f"{pointer}/{_escape(name)}/price", result.title, result.details))
        else:
            parsed[name] = result
    return parsed


def _allocations(
    value: Any, pointer: str, problems: list[Problem]
) -> tuple[ExperimentAllocation, ...] | None:
    if not isinstance(value, list):
        problems.append((pointer, TITLE_TYPE, "must be an array of objects"))
        return None
    parsed = []
    for index, element in enumerate(value):
        if not isinstance(element, dict):
            problems.append((f"{pointer}/{index}", TITLE_TYPE, "must be an object"))
            continue
        ids = []
        for key in ("experimentID", "variantID"):
            number = element.get(key)
            if number is None:
                problems.append((f"{pointer}/{index}/{key}", TITLE_REQUIRED, "is required"))
            elif type(number) is not int:
                problems.append((f"{pointer}/{index}/{key}", TITLE_TYPE, "must be an integer"))
            elif not 1 <= number <= MAX_ID:
                problems.append(
                    (f"{pointer}/{index}/{key}", TITLE_VALUE, f"must be from 1 to {MAX_ID}")
                )
            else:
                ids.append(number)
        if len(ids) == 2:
            parsed.append(ExperimentAllocation(ids[0], ids[1]))
    return tuple(parsed)


def _body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise PayloadError([("", TITLE_TYPE, "the request body must be a JSON object")])
    return body


# --------------------------------------------------------------------------------------------
# Customer sessions

_SESSION = "/customerSession"
_ITEMS = "/customerSession/cartItems"
_NO_DEFINITIONS: Final[Mapping[str, str]] = MappingProxyType({})
_DIMENSIONS: Final = ("weight", "height", "width", "length")


def parse_session_update(
    body: Any,
    *,
    custom_attributes: Mapping[str, Mapping[str, str]],
    additional_costs: Collection[str] | None = None,
) -> SessionUpdate:
    """Parse the body of ``PUT /v2/customer_sessions/{id}``.

    ``custom_attributes`` maps an entity to its defined attributes' types (see the module's
    docstring); ``additional_costs``, when given, names the additional costs the application
    defines, and any other is refused (left to the caller when None). Raises ``PayloadError``
    with every problem found.
    """
    body = _body(body)
    problems: list[Problem] = []
    response_content = _response_content(
        body.get("responseContent"), SESSION_RESPONSE_CONTENT, problems
    )
    session = body.get("customerSession")
    if not isinstance(session, dict):
        if session is None:
            problems.append((_SESSION, TITLE_REQUIRED, "is required"))
        else:
            problems.append((_SESSION, TITLE_TYPE, "must be an object"))
        raise PayloadError(problems)

    get = session.get
    profile_id = get("profileId")
    if profile_id is not None:
        profile_id = _text(
            profile_id, "/customerSession/profileId", problems, MAX_INTEGRATION_ID_LENGTH
        )
    store = get("storeIntegrationId")
    if store is not None:
        store = _text(
            store, "/customerSession/storeIntegrationId", problems, MAX_INTEGRATION_ID_LENGTH, 1
        )
    campaign_ids = get("evaluableCampaignIds")
    if campaign_ids is not None:
        campaign_ids = _ids(campaign_ids, "/customerSession/evaluableCampaignIds", problems)
    coupon_codes = get("couponCodes")
    if coupon_codes is not None:
        coupon_codes = _texts(
            coupon_codes,
            "/customerSession/couponCodes",
            problems,
            MAX_COUPON_CODES,
            MAX_CODE_LENGTH,
        )
    referral_code = get("referralCode")
    if referral_code is not None:
        referral_code = _text(
            referral_code, "/customerSession/referralCode", problems, MAX_CODE_LENGTH
        )
    loyalty_cards = get("loyaltyCards")
    if loyalty_cards is not None:
        loyalty_cards = _texts(
            loyalty_cards,
            "/customerSession/loyaltyCards",
            problems,
            MAX_LOYALTY_CARDS,
            MAX_LOYALTY_CARD_LENGTH,
        )
    state = get("state")
    if state is not None and (not isinstance(state, str) or state not in SETTABLE_SESSION_STATES):
        if state == "partially_returned":
            details = "is set by returning cart items (POST …/returns), not by an update"
        elif isinstance(state, str):
            details = "must be one of open, closed, cancelled"
        else:
            details = "must be a string: open, closed or cancelled"
        problems.append(("/customerSession/state", TITLE_VALUE, details))
        state = None
    identifiers = get("identifiers")
    if identifiers is not None:
        identifiers = _texts(
            identifiers,
            "/customerSession/identifiers",
            problems,
            MAX_IDENTIFIERS,
            MAX_IDENTIFIER_LENGTH,
        )
    costs = get("additionalCosts")
    if costs is not None:
        costs = _additional_costs(
            costs, "/customerSession/additionalCosts", problems, additional_costs
        )
    attributes = get("attributes")
    if attributes is not None:
        attributes = _attributes(
            attributes,
            "/customerSession/attributes",
            problems,
            custom_attributes.get(ENTITY_SESSION, _NO_DEFINITIONS),
            ENTITY_SESSION,
        )
    allocations = get("experimentVariantAllocations")
    if allocations is not None:
        allocations = _allocations(
            allocations, "/customerSession/experimentVariantAllocations", problems
        )

    cart_items: tuple[CartItemInput, ...] | None = None
    items = get("cartItems")
    if items is not None:
        if not isinstance(items, list):
            problems.append((_ITEMS, TITLE_TYPE, "must be an array of objects"))
        elif len(items) > MAX_CART_ITEMS:
            # Not looking inside: a cart over the limit is refused whatever its items say.
            problems.append(
                (_ITEMS, TITLE_LIMIT, f"must have at most {MAX_CART_ITEMS} items, not {len(items)}")
            )
        else:
            cart_items = _cart_items(
                items,
                problems,
                custom_attributes.get(ENTITY_CART_ITEM, _NO_DEFINITIONS),
                additional_costs,
            )

    if problems:
        raise PayloadError(problems)
    return SessionUpdate(
        profile_id,
        store,
        campaign_ids,
        coupon_codes,
        referral_code,
        loyalty_cards,
        state,
        cart_items,
        costs,
        identifiers,
        attributes,
        allocations,
        response_content,
    )


def _cart_items(
    items: list[Any],
    problems: list[Problem],
    definitions: Mapping[str, str],
    known_costs: Collection[str] | None,
) -> tuple[CartItemInput, ...]:
    """The cart: one pass, the common fields checked inline (this loop is the hot path)."""
    parsed: list[CartItemInput] = []
    total_quantity = 0
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append((f"{_ITEMS}/{index}", TITLE_TYPE, "must be an object"))
            continue
        get = item.get

        sku: Any = get("sku")
        if not isinstance(sku, str):
            if sku is None:
                problems.append((f"{_ITEMS}/{index}/sku", TITLE_REQUIRED, "is required"))
            else:
                problems.append((f"{_ITEMS}/{index}/sku", TITLE_TYPE, "must be a string"))
        elif not sku:
            problems.append((f"{_ITEMS}/{index}/sku", TITLE_VALUE, "must not be empty"))
        elif len(sku) > MAX_TEXT_LENGTH:
            problems.append(
                (
                    f"{_ITEMS}/{index}/sku",
                    TITLE_LIMIT,
                    f"must be at most {MAX_TEXT_LENGTH} characters long",
                )
            )

        quantity: Any = get("quantity")
        if type(quantity) is int and quantity >= 1:
            total_quantity += quantity
        elif quantity is None:
            problems.append((f"{_ITEMS}/{index}/quantity", TITLE_REQUIRED, "is required"))
        elif type(quantity) is int:
            problems.append((f"{_ITEMS}/{index}/quantity", TITLE_VALUE, "must be at least 1"))
        else:
            problems.append((f"{_ITEMS}/{index}/quantity", TITLE_TYPE, "must be an integer"))

        price: Any = get("price")
        if price is not None:
            price = _number(price, True)
            if type(price) is _Bad:
                problems.append((f"{_ITEMS}/{index}/price", price.title, price.details))

        name = get("name")
        if name is not None and (not isinstance(name, str) or len(name) > MAX_TEXT_LENGTH):
            _bad_text(name, f"{_ITEMS}/{index}/name", problems)
        category = get("category")
        if category is not None and (
            not isinstance(category, str) or len(category) > MAX_TEXT_LENGTH
        ):
            _bad_text(category, f"{_ITEMS}/{index}/category", problems)

        product_name = None
        product = get("product")
        if product is not None:
            if not isinstance(product, dict):
                problems.append((f"{_ITEMS}/{index}/product", TITLE_TYPE, "must be an object"))
            else:
                product_name = product.get("name")
                if product_name is None:
                    problems.append(
                        (f"{_ITEMS}/{index}/product/name", TITLE_REQUIRED, "is required")
                    )
                elif not isinstance(product_name, str) or len(product_name) > MAX_TEXT_LENGTH:
                    _bad_text(product_name, f"{_ITEMS}/{index}/product/name", problems)

        weight = height = width = length = None
        if "weight" in item or "height" in item or "width" in item or "length" in item:
            weight, height, width, length = _dimensions(item, index, problems)

        attributes: Any = get("attributes")
        if attributes is None:
            attributes = _EMPTY
        else:
            attributes = _attributes(
                attributes, f"{_ITEMS}/{index}/attributes", problems, definitions, ENTITY_CART_ITEM
            )
        costs: Any = get("additionalCosts")
        if costs is None:
            costs = _EMPTY
        else:
            costs = _additional_costs(
                costs, f"{_ITEMS}/{index}/additionalCosts", problems, known_costs
            )

        if not problems:  # once anything is wrong, the result is never used
            parsed.append(
                CartItemInput(
                    sku,
                    quantity,
                    name,
                    price,
                    category,
                    product_name,
                    weight,
                    height,
                    width,
                    length,
                    attributes,
                    costs,
                )
            )
    if total_quantity > MAX_TOTAL_QUANTITY:
        problems.append(
            (
                _ITEMS,
                TITLE_LIMIT,
                f"the quantities must add up to at most {MAX_TOTAL_QUANTITY}, not {total_quantity}",
            )
        )
    return tuple(parsed)


def _bad_text(value: Any, pointer: str, problems: list[Problem]) -> None:
    if isinstance(value, str):
        problems.append(
            (pointer, TITLE_LIMIT, f"must be at most {MAX_TEXT_LENGTH} characters long")
        )
    else:
        problems.append((pointer, TITLE_TYPE, "must be a string"))


def _dimensions(item: dict[str, Any], index: int, problems: list[Problem]) -> list[Any]:
    """Weight, height, width and length (each ≥ 0, or None when absent)."""
    parsed: list[Any] = []
    for key in _DIMENSIONS:
        value = item.get(key)
        if value is not None:
            value = _number(value, True)
            if type(value) is _Bad:
                problems.append((f"{_ITEMS}/{index}/{key}", value.title, value.details))
                value = None
        parsed.append(value)
    return parsed


# --------------------------------------------------------------------------------------------
# Customer profiles and events


def parse_profile_update(
    body: Any, *, custom_attributes: Mapping[str, Mapping[str, str]]
) -> ProfileUpdate:
    """Parse the body of ``PUT /v2/customer_profiles/{integrationId}``.

    ``attributes`` must be defined for ``CustomerProfile``; ``audiencesChanges`` needs both
    ``adds`` and ``deletes`` (audience ids), as the reference says. Raises ``PayloadError``.
    """
    body = _body(body)
    problems: list[Problem] = []
    response_content = _response_content(
        body.get("responseContent"), PROFILE_RESPONSE_CONTENT, problems
    )
    attributes = body.get("attributes")
    if attributes is not None:
        attributes = _attributes(
            attributes,
            "/attributes",
            problems,
            custom_attributes.get(ENTITY_PROFILE, _NO_DEFINITIONS),
            ENTITY_PROFILE,
        )
    campaign_ids = body.get("evaluableCampaignIds")
    if campaign_ids is not None:
        campaign_ids = _ids(campaign_ids, "/evaluableCampaignIds", problems)
    changes = body.get("audiencesChanges")
    audiences_changes = None
    if changes is not None:
        if not isinstance(changes, dict):
            problems.append(("/audiencesChanges", TITLE_TYPE, "must be an object"))
        else:
            lists = []
            for key in ("adds", "deletes"):
                value = changes.get(key)
                if value is None:
                    problems.append((f"/audiencesChanges/{key}", TITLE_REQUIRED, "is required"))
                else:
                    lists.append(_ids(value, f"/audiencesChanges/{key}", problems))
            if not problems:
                audiences_changes = AudiencesChanges(lists[0] or (), lists[1] or ())
    if problems:
        raise PayloadError(problems)
    return ProfileUpdate(attributes, audiences_changes, campaign_ids, response_content)


_PROFILES = "/customerProfiles"


def parse_profiles_batch(
    body: Any, *, custom_attributes: Mapping[str, Mapping[str, str]]
) -> tuple[ProfileAttributes, ...]:
    """Parse the body of ``PUT /v2/customer_profiles``: ``{customerProfiles: [{integrationId,
    attributes}]}``, at most ``MAX_PROFILES_PER_BATCH`` of them.

    Every profile needs an ``integrationId`` (1 to 1,000 characters), and no two may share one
    (which of them would win is not for us to guess); ``attributes`` must be defined for
    ``CustomerProfile``. The batch is all or nothing: raises ``PayloadError`` with every
    problem of every profile (``/customerProfiles/3/attributes/Tier``).
    """
    body = _body(body)
    profiles = body.get("customerProfiles")
    if not isinstance(profiles, list):
        if profiles is None:
            raise PayloadError([(_PROFILES, TITLE_REQUIRED, "is required")])
        raise PayloadError([(_PROFILES, TITLE_TYPE, "must be an array of objects")])
    if len(profiles) > MAX_PROFILES_PER_BATCH:
        # Not looking inside: a batch over the limit is refused whatever its profiles say.
        details = f"must have at most {MAX_PROFILES_PER_BATCH} profiles, not {len(profiles)}"
        raise PayloadError([(_PROFILES, TITLE_LIMIT, details)])
    definitions = custom_attributes.get(ENTITY_PROFILE, _NO_DEFINITIONS)
    problems: list[Problem] = []
    parsed: list[ProfileAttributes] = []
    first_index: dict[str, int] = {}
    for index, profile in enumerate(profiles):
        pointer = f"{_PROFILES}/{index}"
        if not isinstance(profile, dict):
            problems.append((pointer, TITLE_TYPE, "must be an object"))
            continue
        integration_id = profile.get("integrationId")
        if integration_id is None:
            problems.append((f"{pointer}/integrationId", TITLE_REQUIRED, "is required"))
        else:
            integration_id = _text(
                integration_id,
                f"{pointer}/integrationId",
                problems,
                MAX_INTEGRATION_ID_LENGTH,
                1,
            )
        if integration_id is not None:
            first = first_index.setdefault(integration_id, index)
            if first != index:
                problems.append(
                    (
                        f"{pointer}/integrationId",
                        TITLE_VALUE,
                        f"is also the integrationId of {_PROFILES}/{first}: send each profile once",
                    )
                )
        attributes = profile.get("attributes")
        if attributes is not None:
            attributes = _attributes(
                attributes, f"{pointer}/attributes", problems, definitions, ENTITY_PROFILE
            )
        # Once anything is wrong, the result is never used (and a missing id is a problem).
        if not problems and integration_id is not None:
            parsed.append(ProfileAttributes(integration_id, attributes))
    if problems:
        raise PayloadError(problems)
    return tuple(parsed)


def parse_event(body: Any, *, custom_attributes: Mapping[str, Mapping[str, str]]) -> EventInput:
    """Parse the body of ``POST /v2/events``.

    ``type`` (1 to 255 characters) and ``profileId`` are required; ``attributes`` must be
    defined for ``Event`` (the caller passes the definitions that apply to this event's type).
    Raises ``PayloadError``.
    """
    body = _body(body)
    problems: list[Problem] = []
    response_content = _response_content(
        body.get("responseContent"), EVENT_RESPONSE_CONTENT, problems
    )
    profile_id = body.get("profileId")
    if profile_id is None:
        problems.append(("/profileId", TITLE_REQUIRED, "is required"))
    else:
        profile_id = _text(profile_id, "/profileId", problems, MAX_INTEGRATION_ID_LENGTH, 1)
    event_type = body.get("type")
    if event_type is None:
        problems.append(("/type", TITLE_REQUIRED, "is required"))
    else:
        event_type = _text(event_type, "/type", problems, MAX_EVENT_TYPE_LENGTH, 1)
    store = body.get("storeIntegrationId")
    if store is not None:
        store = _text(store, "/storeIntegrationId", problems, MAX_INTEGRATION_ID_LENGTH, 1)
    attributes = body.get("attributes")
    if attributes is None:
        attributes = _EMPTY
    else:
        attributes = _attributes(
            attributes,
            "/attributes",
            problems,
            custom_attributes.get(ENTITY_EVENT, _NO_DEFINITIONS),
            ENTITY_EVENT,
        )
    campaign_ids = body.get("evaluableCampaignIds")
    if campaign_ids is not None:
        campaign_ids = _ids(campaign_ids, "/evaluableCampaignIds", problems)
    loyalty_cards = body.get("loyaltyCards")
    if loyalty_cards is not None:
        loyalty_cards = _texts(
            loyalty_cards, "/loyaltyCards", problems, MAX_LOYALTY_CARDS, MAX_LOYALTY_CARD_LENGTH
        )
    if problems:
        raise PayloadError(problems)
    return EventInput(
        profile_id,
        event_type,
        store,
        attributes,
        campaign_ids,
        loyalty_cards,
        response_content,
    )


# --------------------------------------------------------------------------------------------
# Returns (``POST /v2/customer_sessions/{id}/returns``)

RETURN_RESPONSE_CONTENT: Final = frozenset(
    {
        "customerSession",
        "customerProfile",
        "coupons",
        "triggeredCampaigns",
        "referral",
        "loyalty",
        "event",
        "previousReturns",
    }
)

_RETURN = "/return"
_RETURNED = "/return/returnedCartItems"


@dataclass(frozen=True, slots=True)
class ReturnedCartItemInput:
    """One entry of ``returnedCartItems``: which item of the session's cart, and how many.

    The item is named by ``position`` (its index in the session's cart), by ``sku``, or by
    both (then they must agree); ``None`` marks what the entry did not carry. A ``quantity``
    of ``None`` returns all that remains of the item.
    """

    position: int | None = None
    quantity: int | None = None
    sku: str | None = None


@dataclass(frozen=True, slots=True)
class CartReturn:
    """The body of ``POST /v2/customer_sessions/{id}/returns``."""

    items: tuple[ReturnedCartItemInput, ...]
    response_content: frozenset[str] = frozenset()


def parse_return(body: Any) -> CartReturn:
    """Parse the body of ``POST /v2/customer_sessions/{id}/returns``: ``{return:
    {returnedCartItems: [{position, quantity, sku}]}, responseContent}``.

    At least one item and at most ``MAX_CART_ITEMS``; each names its item by ``position``
    (an integer from 0) or ``sku`` (or both) and may say a ``quantity`` (an integer from 1).
    Whether the session has such an item, and that much of it left, is the service's to check.
    Raises ``PayloadError`` with every problem (``/return/returnedCartItems/0/quantity``).
    """
    body = _body(body)
    problems: list[Problem] = []
    response_content = _response_content(
        body.get("responseContent"), RETURN_RESPONSE_CONTENT, problems
    )
    cart_return = body.get("return")
    if not isinstance(cart_return, dict):
        if cart_return is None:
            problems.append((_RETURN, TITLE_REQUIRED, "is required"))
        else:
            problems.append((_RETURN, TITLE_TYPE, "must be an object"))
        raise PayloadError(problems)
    entries = cart_return.get("returnedCartItems")
    if not isinstance(entries, list):
        if entries is None:
            problems.append((_RETURNED, TITLE_REQUIRED, "is required"))
        else:
            problems.append((_RETURNED, TITLE_TYPE, "must be an array of objects"))
        raise PayloadError(problems)
    if not entries:
        problems.append((_RETURNED, TITLE_VALUE, "must name at least one cart item"))
    elif len(entries) > MAX_CART_ITEMS:
        details = f"must have at most {MAX_CART_ITEMS} items, not {len(entries)}"
        problems.append((_RETURNED, TITLE_LIMIT, details))
        raise PayloadError(problems)
    parsed: list[ReturnedCartItemInput] = []
    for index, entry in enumerate(entries):
        pointer = f"{_RETURNED}/{index}"
        if not isinstance(entry, dict):
            problems.append((pointer, TITLE_TYPE, "must be an object"))
            continue
        before = len(problems)
        position = entry.get("position")
        if position is not None:
            if type(position) is not int:
                problems.append((f"{pointer}/position", TITLE_TYPE, "must be an integer"))
            elif not 0 <= position < MAX_CART_ITEMS:
                details = f"must be from 0 to {MAX_CART_ITEMS - 1}"
                problems.append((f"{pointer}/position", TITLE_VALUE, details))
        quantity = entry.get("quantity")
        if quantity is not None:
            if type(quantity) is not int:
                problems.append((f"{pointer}/quantity", TITLE_TYPE, "must be an integer"))
            elif not 1 <= quantity <= MAX_TOTAL_QUANTITY:
                details = f"must be from 1 to {MAX_TOTAL_QUANTITY}"
                problems.append((f"{pointer}/quantity", TITLE_VALUE, details))
        sku = entry.get("sku")
        if sku is not None:
            sku = _text(sku, f"{pointer}/sku", problems, MAX_TEXT_LENGTH, 1)
        if position is None and entry.get("sku") is None:
            details = "is required (or sku): which item of the session's cart to return"
            problems.append((f"{pointer}/position", TITLE_REQUIRED, details))
        if len(problems) == before:
            parsed.append(ReturnedCartItemInput(position, quantity, sku))
    if problems:
        raise PayloadError(problems)
    return CartReturn(tuple(parsed), response_content)
