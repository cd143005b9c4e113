"""The hot path's hand-written building blocks (``campaigns.rows``) against what Django and
PostgreSQL would do without them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models.signals import post_init

from campaigns.models import CartItem, CustomerSession
from campaigns.rows import _numbered, model_instance
from campaigns.services.sessions import CART_ITEM_FIELDS

pytestmark = pytest.mark.django_db

VALUES = (
    None,
    7,
    3,
    "Shoe",
    "SKU-1",
    2,
    0,
    2,
    Decimal("12.50"),
    "shoes",
    "Runner",
    Decimal("1.5"),
    None,
    None,
    None,
    {"color": "red"},
    {},
    None,
)


def _fields(instance: Any) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in CART_ITEM_FIELDS}


@pytest.mark.parametrize("db", [None, "default"])
def test_a_model_instance_is_the_one_the_model_builds(db: str | None) -> None:
    expected = CartItem(*VALUES)
    if db is not None:
        expected = CartItem.from_db(db, CART_ITEM_FIELDS, VALUES)
    made = model_instance(CartItem, CART_ITEM_FIELDS, VALUES, db=db)
    assert type(made) is CartItem
    assert _fields(made) == _fields(expected)
    assert vars(made).keys() == vars(expected).keys()
    assert (made._state.adding, made._state.db) == (expected._state.adding, expected._state.db)
    assert made._state.fields_cache == {}


def test_a_model_instance_is_built_by_the_model_when_someone_listens_to_its_signals() -> None:
    seen: list[Any] = []

    def receiver(sender: type, instance: Any, **kwargs: Any) -> None:
        seen.append(instance)

    post_init.connect(receiver, sender=CartItem)
    try:
        made = model_instance(CartItem, CART_ITEM_FIELDS, VALUES, db=None)
    finally:
        post_init.disconnect(receiver, sender=CartItem)
    assert seen == [made]


def test_rows_read_by_hand_are_the_instances_the_orm_reads() -> None:
    from django.db import transaction

    from campaigns.rows import session_locked
    from tests.factories import CustomerProfileFactory, CustomerSessionFactory

    profile = CustomerProfileFactory()
    session = CustomerSessionFactory(
        application=profile.application, profile=profile, attributes={"k": [1, "x"]}
    )
    values = list(VALUES)
    values[1] = session.pk
    made = model_instance(CartItem, CART_ITEM_FIELDS, values, db=None)
    made.save()
    assert made._state.adding is False
    assert _fields(CartItem.objects.get(pk=made.pk)) == {**_fields(made)}
    with transaction.atomic():
        found = session_locked(
            application_id=session.application_id, integration_id=session.integration_id
        )
    assert found is not None
    orm = CustomerSession.objects.select_related("profile").get(pk=session.pk)
    names = [field.attname for field in CustomerSession._meta.concrete_fields]
    assert {n: getattr(found, n) for n in names} == {n: getattr(orm, n) for n in names}
    assert found.profile is not None
    assert orm.profile is not None
    assert vars(found.profile).keys() - {"_state"} == vars(orm.profile).keys() - {"_state"}
    assert (found._state.adding, found._state.db) == (False, "default")


def test_placeholders_are_numbered_for_prepare() -> None:
    assert _numbered("UPDATE t SET a = %s, b = %s WHERE id = %s") == (
        "UPDATE t SET a = $1, b = $2 WHERE id = $3",
        3,
    )
    assert _numbered("SELECT 1") == ("SELECT 1", 0)
    assert _numbered("SELECT %s::json") == ("SELECT $1::json", 1)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PREPARE is PostgreSQL's")
def test_a_rolled_back_transaction_keeps_the_statements_prepared_in_it() -> None:
    from django.db import transaction

    from campaigns.rows import _prepared

    with transaction.atomic(), connection.cursor() as cursor:
        text = _prepared(cursor, "talonone_test_prepared", "SELECT $1::int + 1", 1)
        transaction.set_rollback(True)
    with connection.cursor() as cursor:
        cursor.execute(text, [41])
        assert cursor.fetchone() == (42,)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements")
def test_a_session_written_with_text_parameters_reads_back_as_it_was() -> None:
    from datetime import UTC, datetime

    from django.db import transaction

    from campaigns.rows import session_write
    from tests.factories import CustomerSessionFactory

    session = CustomerSessionFactory(attributes={"a": [1, "é", None], "b": {"c": True}})
    session.coupon_codes = ["SUMMER-1", 'quote"d']
    session.identifiers = []
    session.additional_costs = {"shipping": {"price": "4.90"}}
    session.total = Decimal("12.345600")
    session.created = datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC)
    with transaction.atomic():
        session_write(session, items=None)
    read = CustomerSession.objects.get(pk=session.pk)
    names = [field.attname for field in CustomerSession._meta.concrete_fields]
    assert {n: getattr(read, n) for n in names} == {n: getattr(session, n) for n in names}


def test_a_model_with_an_init_of_its_own_is_built_by_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[Any] = []
    original = CartItem.__init__

    def init(self: CartItem, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        built.append(self)

    monkeypatch.setattr(CartItem, "__init__", init)
    made = model_instance(CartItem, CART_ITEM_FIELDS, VALUES, db=None)
    assert built == [made]
