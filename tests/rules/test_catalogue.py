"""The attribute catalogue: what a rule may read, and the palette the rule builder shows."""

from __future__ import annotations

import pytest

from rules import catalogue as names
from rules.catalogue import (
    ANY_KEY,
    attribute_paths,
    attribute_type,
    build_catalogue,
    item_attribute_paths,
    item_type,
    resolve,
)
from rules.engine import check_rule
from rules.types import BOOLEAN, DECIMAL, STRING, Kind, Type, list_of


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (("Session", "Total"), Kind.DECIMAL),
        (("Session", "CartItemTotal"), Kind.DECIMAL),
        (("Session", "AdditionalCostTotal"), Kind.DECIMAL),
        (("Session", "CartItems"), Kind.LIST),
        (("Session", "CouponCode"), Kind.STRING),
        (("Session", "ReferralCode"), Kind.STRING),
        (("Session", "State"), Kind.STRING),
        (("Session", "FirstSession"), Kind.BOOLEAN),
        (("Session", "Identifiers"), Kind.LIST),
        (("Session", "IntegrationId"), Kind.STRING),
        (("Session", "AdditionalCosts", "shipping", "Price"), Kind.DECIMAL),
        (("Item", "Name"), Kind.STRING),
        (("Item", "SKU"), Kind.STRING),
        (("Item", "Quantity"), Kind.DECIMAL),
        (("Item", "Price"), Kind.DECIMAL),
        (("Item", "Category"), Kind.STRING),
        (("Item", "Weight"), Kind.DECIMAL),
        (("Item", "Position"), Kind.DECIMAL),
        (("Item", "Product", "Name"), Kind.STRING),
        (("Profile", "IntegrationId"), Kind.STRING),
        (("Profile", "ClosedSessions"), Kind.DECIMAL),
        (("Profile", "TotalSales"), Kind.DECIMAL),
        (("Profile", "CreatedAt"), Kind.TIME),
        (("Profile", "AudienceMemberships"), Kind.LIST),
        (("Event", "Type"), Kind.STRING),
        (("Coupon", "Code"), Kind.STRING),
        (("Coupon", "Valid"), Kind.BOOLEAN),
        (("Coupon", "UsageLimit"), Kind.DECIMAL),
        (("Coupon", "ExpiryDate"), Kind.TIME),
        (("Coupon", "RecipientIntegrationId"), Kind.STRING),
        (("Referral", "AdvocateIntegrationId"), Kind.STRING),
        (("Referral", "Valid"), Kind.BOOLEAN),
        (("Loyalty", "12", "ActivePoints"), Kind.DECIMAL),
        (("Loyalty", "12", "PendingPoints"), Kind.DECIMAL),
        (("Application", "Currency"), Kind.STRING),
        (("Now",), Kind.TIME),
    ],
)
def test_built_in_attributes_have_their_kinds(path: tuple[str, ...], kind: Kind) -> None:
    found = resolve(build_catalogue(), path)

    assert found is not None
    assert found.kind == kind


def test_unknown_built_in_attributes_are_absent() -> None:
    catalogue = build_catalogue()

    assert resolve(catalogue, ("Session", "Totall")) is None
    assert resolve(catalogue, ("Basket",)) is None
    assert resolve(catalogue, ("Session", "Total", "Amount")) is None
    assert catalogue.field_type("Basket") is None


def test_every_leaf_has_one_kind_and_a_description() -> None:
    catalogue = build_catalogue({"Profile": {"Tier": Type(Kind.STRING, description="Tier")}})

    for path, type_ in [*attribute_paths(catalogue), *item_attribute_paths(catalogue)]:
        assert type_.description, path
        assert type_.kind in (
            Kind.DECIMAL,
            Kind.STRING,
            Kind.BOOLEAN,
            Kind.TIME,
            Kind.LIST,
        ), path


def test_money_and_counts_are_decimals_and_dates_are_times() -> None:
    leaves = dict(attribute_paths(build_catalogue()))

    for path, type_ in leaves.items():
        last = path[-1]
        if last.endswith(("Total", "Sales", "Points", "Limit", "Counter", "Price", "Count")):
            assert type_.kind == Kind.DECIMAL, path
        if last.endswith(("Date", "At", "Activity")) or last == "Now":
            assert type_.kind == Kind.TIME, path


def test_the_named_paths_exist() -> None:
    catalogue = build_catalogue()

    for path in (
        names.SESSION_TOTAL,
        names.CART_ITEMS,
        names.ITEM_QUANTITY,
        names.ITEM_PRICE,
        names.ITEM_POSITION,
        names.EVENT_TYPE,
        names.AUDIENCE_MEMBERSHIPS,
        names.CURRENT_TIME,
    ):
        assert resolve(catalogue, path) is not None, path
    audience = resolve(catalogue, names.AUDIENCE_MEMBERSHIPS)
    assert audience is not None
    assert audience.item is not None
    assert audience.item.fields[names.AUDIENCE_ID].kind == Kind.DECIMAL
    for balance in names.LOYALTY_BALANCES:
        found = resolve(catalogue, (names.LOYALTY, "1", balance))
        assert found is not None
        assert found.kind == Kind.DECIMAL


def test_cart_items_are_items() -> None:
    catalogue = build_catalogue()

    cart = resolve(catalogue, names.CART_ITEMS)

    assert cart is not None
    assert cart.item is item_type(catalogue)
    assert item_type(catalogue).fields["Category"].kind == Kind.STRING


def test_without_custom_attributes_attributes_maps_are_open() -> None:
    catalogue = build_catalogue()

    for entity in ("Session", "Profile", "Event", "Coupon", "Referral"):
        attributes = catalogue.fields[entity].fields["Attributes"]
        assert attributes.open
        assert attributes.field_type("anything") is not None
    assert item_type(catalogue).fields["Attributes"].open
    assert (("Profile", "Attributes"), catalogue.fields["Profile"].fields["Attributes"]) in (
        attribute_paths(catalogue)
    )


def test_custom_attributes_are_merged_and_close_the_attributes_maps() -> None:
    catalogue = build_catalogue(
        {
            "Profile": {"Country": STRING, "VIP": BOOLEAN},
            "Item": {"Color": STRING},
            "CustomerSession": {"ShippingCity": STRING},
            "Event": {"PageViews": DECIMAL},
            "Coupon": {"Tags": list_of(STRING)},
        }
    )

    profile = catalogue.fields["Profile"].fields["Attributes"]
    assert not profile.open
    assert profile.field_type("Country") == STRING
    assert profile.field_type("VIP") == BOOLEAN
    assert profile.field_type("Colour") is None
    assert resolve(catalogue, ("Item", "Attributes", "Color")) == STRING
    assert resolve(catalogue, ("Item", "Attributes", "Size")) is None
    assert resolve(catalogue, ("Session", "Attributes", "ShippingCity")) == STRING
    assert resolve(catalogue, ("Event", "Attributes", "PageViews")) == DECIMAL
    assert resolve(catalogue, ("Referral", "Attributes", "Anything")) is None


def test_custom_attributes_appear_in_the_palette() -> None:
    catalogue = build_catalogue({"Profile": {"Country": STRING}, "CartItem": {"Color": STRING}})

    paths = [path for path, _ in attribute_paths(catalogue)]
    item_paths = [path for path, _ in item_attribute_paths(catalogue)]

    assert ("Profile", "Attributes", "Country") in paths
    assert ("Item", "Attributes", "Color") in item_paths
    # A closed map with no attributes offers nothing to pick.
    assert ("Session", "Attributes") not in paths
    assert not any(path[:2] == ("Session", "Attributes") for path in paths)


def test_an_empty_custom_attribute_map_closes_every_attributes_map() -> None:
    catalogue = build_catalogue({})

    assert resolve(catalogue, ("Profile", "Attributes", "Country")) is None
    assert resolve(catalogue, ("Item", "Attributes", "Color")) is None


def test_custom_attributes_of_unknown_entities_are_refused() -> None:
    with pytest.raises(ValueError, match="Giveaway"):
        build_catalogue({"Giveaway": {"Code": STRING}})
    with pytest.raises(ValueError, match="not a Type"):
        build_catalogue({"Profile": {"Country": "string"}})  # type: ignore[dict-item]


def test_attribute_paths_lists_leaves_only() -> None:
    catalogue = build_catalogue()

    leaves = attribute_paths(catalogue)
    paths = [path for path, _ in leaves]

    assert len(paths) == len(set(paths))
    assert ("Session", "Total") in paths
    assert ("Session", "CartItems") in paths  # a list is a leaf
    assert ("Session",) not in paths  # a map with fields is walked into
    assert ("Loyalty", ANY_KEY, "ActivePoints") in paths
    assert ("Session", "AdditionalCosts", ANY_KEY, "Price") in paths
    assert ("Now",) in paths
    for path, type_ in leaves:
        assert not (type_.kind == Kind.MAP and type_.fields), path
    assert [path for path, _ in item_attribute_paths(catalogue)][:3] == [
        ("Item", "Name"),
        ("Item", "SKU"),
        ("Item", "Quantity"),
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("string", STRING),
        ("number", DECIMAL),
        ("boolean", BOOLEAN),
        ("time", Type(Kind.TIME)),
        ("(list string)", list_of(STRING)),
        ("(list number)", list_of(DECIMAL)),
    ],
)
def test_management_api_attribute_types(name: str, expected: Type) -> None:
    assert attribute_type(name) == expected
    assert attribute_type(name, "Shown in the builder").description == "Shown in the builder"


def test_unknown_attribute_types_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown attribute type"):
        attribute_type("integer")


def test_the_compiler_accepts_every_leaf_path() -> None:
    catalogue = build_catalogue({"Profile": {"Country": STRING}})
    reads = [
        [".", *(segment if segment != ANY_KEY else "7" for segment in path)]
        for path, _ in attribute_paths(catalogue)
    ]

    for read in reads:
        rule = {"title": "reads", "condition": ["and", ["catch", True, ["do", read, "V", True]]]}
        assert check_rule(rule, catalogue=catalogue) == [], read


def test_the_compiler_rejects_attributes_the_catalogue_does_not_have() -> None:
    catalogue = build_catalogue({"Profile": {"Country": STRING}})
    rule = {
        "title": "typo",
        "condition": ["and", ["=", [".", "Profile", "Attributes", "Cuntry"], "CA"]],
    }

    errors = check_rule(rule, catalogue=catalogue)

    assert [error.code for error in errors] == ["unknown_attribute"]
    assert errors[0].pointer.startswith("/condition/1")


def test_maps_keyed_by_data_type_their_values() -> None:
    from rules.compiler import compile_expression
    from rules.errors import UnknownAttribute

    catalogue = build_catalogue()
    balance = compile_expression([".", "Loyalty", "7", "ActivePoints"], catalogue=catalogue)
    assert balance.type.kind == Kind.DECIMAL
    with pytest.raises(UnknownAttribute):
        compile_expression([".", "Loyalty", "7", "Nope"], catalogue=catalogue)
