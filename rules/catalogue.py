"""The attribute catalogue: everything a rule may read, with its type.

A rule reads its inputs with paths such as ``[".", "Session", "Total"]`` or
``[".", "Profile", "Attributes", "Country"]``. The catalogue is one ``Type``, a map describing the
root binding: ``Session`` (the cart), ``Profile`` (the customer), ``Event``, ``Coupon``,
``Referral``, ``Loyalty`` (balances by program id), ``Application``, ``Campaign``, ``Store`` and
``Now``. Names are Talon.One's rule-language names (PascalCase) for the fields of its Integration
API (``total`` → ``Total``, ``cartItems`` → ``CartItems``).

Inside a lambda over ``Session.CartItems`` the item is bound as ``Item``
(``[["Item"], [">", [".", "Item", "Price"], 10]]``); its type is ``item_type(catalogue)``.

Every entity has an ``Attributes`` map for the application's custom attributes. Built without
custom attributes the maps are open (any key, unknown type); built with them they are closed, so
that reading an attribute that was never defined is a type error when the rule is saved.

This module is the one place where these names are spelled; the rule builder's blocks
(``rules.blocks``) and the evaluation context refer to the constants below.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace

from rules.types import Kind, Type, list_of, map_of

# ---------------------------------------------------------------------------------------------
# Names used elsewhere (blocks, the evaluation context). Paths are tuples of keys.

SESSION = "Session"
PROFILE = "Profile"
EVENT = "Event"
COUPON = "Coupon"
REFERRAL = "Referral"
LOYALTY = "Loyalty"
APPLICATION = "Application"
CAMPAIGN = "Campaign"
STORE = "Store"
NOW = "Now"
ITEM = "Item"
"""The name a cart item is bound to inside lambdas over ``Session.CartItems``."""
ATTRIBUTES = "Attributes"

SESSION_TOTAL = (SESSION, "Total")
CART_ITEMS = (SESSION, "CartItems")
ITEM_QUANTITY = (ITEM, "Quantity")
ITEM_PRICE = (ITEM, "Price")
ITEM_POSITION = (ITEM, "Position")
EVENT_TYPE = (EVENT, "Type")
AUDIENCE_MEMBERSHIPS = (PROFILE, "AudienceMemberships")
AUDIENCE_ID = "Id"
CURRENT_TIME = (NOW,)
LOYALTY_BALANCES = ("ActivePoints", "PendingPoints", "SpentPoints", "ExpiredPoints")
"""The balances of one loyalty program, as read by ``[".", "Loyalty", <programId>, <balance>]``."""

ANY_KEY = "*"
"""In ``attribute_paths``: a path segment standing for any key of a keyed map (a loyalty program
id, the name of an additional cost), which the rule author fills in."""

ENTITY_ALIASES: Mapping[str, str] = {
    "CustomerSession": SESSION,
    "CustomerProfile": PROFILE,
    "CartItem": ITEM,
}
"""The Management API's attribute entities (``POST /v1/attributes``) that are spelled differently
in rules. The others (``Event``, ``Coupon``, ``Referral``, ``Application``, ``Campaign``,
``Store``) have the same name in both."""

_ATTRIBUTE_TYPES: Mapping[str, Type] = {
    "string": Type(Kind.STRING),
    "number": Type(Kind.DECIMAL),
    "boolean": Type(Kind.BOOLEAN),
    "time": Type(Kind.TIME),
    "location": Type(Kind.STRING),
    "(list string)": list_of(Type(Kind.STRING)),
    "(list number)": list_of(Type(Kind.DECIMAL)),
    "(list time)": list_of(Type(Kind.TIME)),
    "(list location)": list_of(Type(Kind.STRING)),
}


def attribute_type(type_name: str, description: str = "") -> Type:
    """The ``Type`` of a custom attribute from its Management API type name.

    ``"number"`` → decimal, ``"(list string)"`` → list of strings; a ``location`` is read as its
    text. Raises ``ValueError`` for a name the API does not define.
    """
    try:
        found = _ATTRIBUTE_TYPES[type_name]
    except KeyError:
        known = ", ".join(_ATTRIBUTE_TYPES)
        raise ValueError(f"unknown attribute type {type_name!r} (known: {known})") from None
    return replace(found, description=description) if description else found


# ---------------------------------------------------------------------------------------------
# The built-in attributes


def _decimal(description: str) -> Type:
    return Type(Kind.DECIMAL, description=description)


def _string(description: str) -> Type:
    return Type(Kind.STRING, description=description)


def _boolean(description: str) -> Type:
    return Type(Kind.BOOLEAN, description=description)


def _time(description: str) -> Type:
    return Type(Kind.TIME, description=description)


def _keyed(value: Type, description: str) -> Type:
    """A map whose keys are data (program ids, cost names), each holding a ``value``.

    ``Type`` has no slot for "the type under any key", so the value type rides in ``item`` (a
    list's element type otherwise): ``attribute_paths`` walks it, and a checker may use it.
    """
    return Type(Kind.MAP, item=value, open=True, description=description)


def _attributes(owner: str, custom: Mapping[str, Type] | None) -> Type:
    if custom is None:
        return map_of(
            {}, open=True, description=f"Custom attributes of the {owner} (any, not declared)"
        )
    return map_of(custom, open=False, description=f"Custom attributes of the {owner}")


_ADDITIONAL_COST = map_of({"Price": _decimal("The price of this additional cost")})


def _item(custom: Mapping[str, Type] | None) -> Type:
    return map_of(
        {
            "Name": _string("The item's name"),
            "SKU": _string("The item's stock keeping unit"),
            "Quantity": _decimal("How many units of the item are in the cart"),
            "ReturnedQuantity": _decimal("How many units were returned"),
            "RemainingQuantity": _decimal("How many units remain after returns"),
            "Price": _decimal("The price of one unit"),
            "Category": _string("The item's category (type, group or model)"),
            "Product": map_of(
                {"Name": _string("The product this item is a variant of")},
                description="The product this item belongs to",
            ),
            "Weight": _decimal("Weight of one unit, in grams"),
            "Height": _decimal("Height, in millimetres"),
            "Width": _decimal("Width, in millimetres"),
            "Length": _decimal("Length, in millimetres"),
            "Position": _decimal("The item's place in the cart, counting from 0"),
            "AdditionalCosts": _keyed(
                _ADDITIONAL_COST, "Additional costs of this item, by cost name"
            ),
            ATTRIBUTES: _attributes("cart item", custom),
        },
        description="A cart item",
    )


def _session(custom: Mapping[str, Type] | None, item: Type) -> Type:
    return map_of(
        {
            "IntegrationId": _string("The session's ID in the shop's system"),
            "ProfileId": _string("The integration ID of the customer who owns the session"),
            "StoreIntegrationId": _string("The integration ID of the store"),
            "State": _string("open, closed, cancelled or partially_returned"),
            "FirstSession": _boolean("Whether this is the customer's first session"),
            "UpdateCount": _decimal("How many times the session has been updated"),
            "CreatedAt": _time("When the session was created"),
            "UpdatedAt": _time("When the session was last updated"),
            "Total": _decimal("Cart items plus additional costs, before discounts"),
            "CartItemTotal": _decimal("Value of the cart items, before discounts"),
            "AdditionalCostTotal": _decimal("Value of the session's additional costs"),
            "CartItemAdditionalCostTotal": _decimal("Value of the cart items' additional costs"),
            "CartItems": list_of(item, description="The items in the cart"),
            "AdditionalCosts": _keyed(
                _ADDITIONAL_COST, "Additional costs of the session (such as shipping), by name"
            ),
            "CouponCode": _string("The coupon code being evaluated"),
            "CouponCodes": list_of(
                Type(Kind.STRING), description="Every coupon code entered in the session"
            ),
            "ReferralCode": _string("The referral code entered in the session"),
            "LoyaltyCards": list_of(
                Type(Kind.STRING), description="Identifiers of loyalty cards used in the session"
            ),
            "Identifiers": list_of(
                Type(Kind.STRING), description="Identifiers set by the shop (device, IP address…)"
            ),
            ATTRIBUTES: _attributes("session", custom),
        },
        description="The customer session (the cart)",
    )


def _profile(custom: Mapping[str, Type] | None) -> Type:
    return map_of(
        {
            "IntegrationId": _string("The customer's ID in the shop's system"),
            "CreatedAt": _time("When the customer profile was created"),
            "LastActivity": _time("When the customer was last active"),
            "ClosedSessions": _decimal("How many sessions the customer has closed"),
            "TotalSales": _decimal("The sum of the customer's closed sessions"),
            "AudienceMemberships": list_of(
                map_of(
                    {
                        "Id": _decimal("The audience's ID"),
                        "Name": _string("The audience's name"),
                    }
                ),
                description="The audiences the customer belongs to",
            ),
            "LoyaltyMemberships": list_of(
                map_of(
                    {
                        "ProgramId": _decimal("The loyalty program's ID"),
                        "Joined": _time("When the customer joined the program"),
                    }
                ),
                description="The loyalty programs the customer has joined",
            ),
            ATTRIBUTES: _attributes("customer profile", custom),
        },
        description="The customer",
    )


def _event(custom: Mapping[str, Type] | None) -> Type:
    return map_of(
        {
            "Type": _string("The event's type, such as talon_session_updated"),
            ATTRIBUTES: _attributes("event", custom),
        },
        description="The event being evaluated",
    )


def _coupon(custom: Mapping[str, Type] | None) -> Type:
    return map_of(
        {
            "Code": _string("The coupon code"),
            "Valid": _boolean("Whether the coupon can be used here (what couponValid reads)"),
            "Value": _string("The coupon code (the API's name for it)"),
            "CampaignId": _decimal("The campaign the coupon belongs to"),
            "UsageLimit": _decimal("How many times the coupon may be redeemed (0: no limit)"),
            "UsageCounter": _decimal("How many times the coupon has been redeemed"),
            "DiscountLimit": _decimal("The most the coupon may discount in total (0: no limit)"),
            "DiscountCounter": _decimal("How much the coupon has discounted so far"),
            "DiscountRemainder": _decimal("How much the coupon may still discount"),
            "StartDate": _time("When the coupon becomes valid"),
            "ExpiryDate": _time("When the coupon stops being valid"),
            "RecipientIntegrationId": _string("The only customer who may use the coupon"),
            ATTRIBUTES: _attributes("coupon", custom),
        },
        description="The coupon being evaluated",
    )


def _referral(custom: Mapping[str, Type] | None) -> Type:
    return map_of(
        {
            "Code": _string("The referral code"),
            "Valid": _boolean("Whether the code can be used here (what referralValid reads)"),
            "CampaignId": _decimal("The campaign the referral belongs to"),
            "AdvocateIntegrationId": _string("The customer who shared the code"),
            "FriendIntegrationId": _string("The customer the code was meant for"),
            "UsageLimit": _decimal("How many times the code may be used (0: no limit)"),
            "UsageCounter": _decimal("How many times the code has been used"),
            "StartDate": _time("When the code becomes valid"),
            "ExpiryDate": _time("When the code stops being valid"),
            ATTRIBUTES: _attributes("referral", custom),
        },
        description="The referral being evaluated",
    )


def _loyalty() -> Type:
    balance = map_of(
        {
            "ActivePoints": _decimal("Points the customer can spend now"),
            "PendingPoints": _decimal("Points that will become active later"),
            "SpentPoints": _decimal("Points the customer has spent"),
            "ExpiredPoints": _decimal("Points that expired unused"),
        },
        description="The customer's balances in one program",
    )
    return _keyed(balance, "The customer's loyalty balances, by program ID")


def _application(custom: Mapping[str, Type] | None) -> Type:
    return map_of(
        {
            "Id": _decimal("The application's ID"),
            "Name": _string("The application's name"),
            "Currency": _string("The application's currency (ISO 4217 code)"),
            "Timezone": _string("The application's time zone (IANA name)"),
            ATTRIBUTES: _attributes("application", custom),
        },
        description="The application the session belongs to",
    )


def _campaign(custom: Mapping[str, Type] | None) -> Type:
    return map_of(
        {
            "Id": _decimal("The campaign's ID"),
            "Name": _string("The campaign's name"),
            "Tags": list_of(Type(Kind.STRING), description="The campaign's tags"),
            ATTRIBUTES: _attributes("campaign", custom),
        },
        description="The campaign whose rules are running",
    )


def _store(custom: Mapping[str, Type] | None) -> Type:
    return map_of(
        {
            "IntegrationId": _string("The store's ID in the shop's system"),
            "Name": _string("The store's name"),
            ATTRIBUTES: _attributes("store", custom),
        },
        description="The store the session comes from",
    )


ENTITIES = (SESSION, PROFILE, EVENT, ITEM, COUPON, REFERRAL, APPLICATION, CAMPAIGN, STORE)
"""The entities that can have custom attributes (their names in rules)."""


def build_catalogue(custom_attributes: Mapping[str, Mapping[str, Type]] | None = None) -> Type:
    """The catalogue of one application: the built-in attributes plus its custom attributes.

    ``custom_attributes`` maps an entity (``"Session"``, ``"Profile"``, ``"Item"`` …, or the
    Management API's ``"CustomerSession"``, ``"CustomerProfile"``, ``"CartItem"``) to its
    attributes by name. With it, every ``Attributes`` map is closed; without it (``None``) they
    are all open. Raises ``ValueError`` for an entity that cannot have attributes, or for a custom
    attribute that is not a ``Type``.
    """
    custom: dict[str, dict[str, Type]] | None = None
    if custom_attributes is not None:
        custom = {entity: {} for entity in ENTITIES}
        for entity, attributes in custom_attributes.items():
            name = ENTITY_ALIASES.get(entity, entity)
            if name not in custom:
                known = ", ".join(ENTITIES)
                raise ValueError(f"{entity!r} cannot have custom attributes (known: {known})")
            for attribute, type_ in attributes.items():
                if not isinstance(type_, Type):
                    raise ValueError(f"the type of {entity}.{attribute} is not a Type")
                custom[name][attribute] = type_

    def of(entity: str) -> Mapping[str, Type] | None:
        return None if custom is None else custom[entity]

    return map_of(
        {
            SESSION: _session(of(SESSION), _item(of(ITEM))),
            PROFILE: _profile(of(PROFILE)),
            EVENT: _event(of(EVENT)),
            COUPON: _coupon(of(COUPON)),
            REFERRAL: _referral(of(REFERRAL)),
            LOYALTY: _loyalty(),
            APPLICATION: _application(of(APPLICATION)),
            CAMPAIGN: _campaign(of(CAMPAIGN)),
            STORE: _store(of(STORE)),
            NOW: _time("The current time (the time the rules are evaluated)"),
        },
        open=False,
        description="What a rule can read",
    )


def item_type(catalogue: Type) -> Type:
    """The type of one cart item (what ``Item`` is bound to in a lambda over the cart)."""
    items = catalogue.fields[SESSION].fields["CartItems"]
    assert items.item is not None
    return items.item


def resolve(catalogue: Type, path: tuple[str, ...] | list[str]) -> Type | None:
    """The type at ``path``, or None if the catalogue has no such attribute.

    A path may start at ``Item`` (a cart item). Keys of a keyed map (``Loyalty``'s program ids)
    may be anything; an open map's unknown keys are of unknown type (``Kind.ANY``).
    """
    if not path:
        return catalogue
    current: Type | None
    if path[0] == ITEM:
        current, rest = item_type(catalogue), path[1:]
    else:
        current, rest = catalogue, path
    for key in rest:
        if current is None or current.kind != Kind.MAP:
            return None
        if key not in current.fields and current.item is not None:
            current = current.item
        else:
            current = current.field_type(key)
    return current


def attribute_paths(catalogue: Type) -> list[tuple[tuple[str, ...], Type]]:
    """Every leaf attribute: ``(path, type)`` in catalogue order, for the attribute palette.

    Maps are walked into; anything else (including lists, such as ``Session.CartItems``) is a
    leaf. A keyed map contributes its value's leaves under the segment ``ANY_KEY``; an open map with
    no known fields (``Attributes`` without custom attributes) is itself a leaf, a closed empty one
    contributes nothing. Pass ``item_type(catalogue)`` to
    list a cart item's attributes (``item_attribute_paths`` prefixes them with ``Item``).
    """
    return list(_leaves(catalogue, ()))


def item_attribute_paths(catalogue: Type) -> list[tuple[tuple[str, ...], Type]]:
    """The attributes of a cart item, as paths starting at ``Item``."""
    return [((ITEM, *path), type_) for path, type_ in _leaves(item_type(catalogue), ())]


def _leaves(type_: Type, prefix: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Type]]:
    if type_.kind != Kind.MAP:
        yield prefix, type_
        return
    if type_.item is not None:
        yield from _leaves(type_.item, (*prefix, ANY_KEY))
        return
    if not type_.fields:
        if prefix and type_.open:
            yield prefix, type_
        return
    for name, field_type in type_.fields.items():
        yield from _leaves(field_type, (*prefix, name))
