"""The floor of ``benchmarks/session_update.py``: a bare Django view that does the least that
``PUT /v2/customer_sessions/{id}`` must do.

It reads the same body (``json.loads`` with decimals as ``Decimal``), checks the cart items'
types, and in one transaction upserts the session row and replaces its items in hand-written
SQL: three statements (``INSERT … ON CONFLICT … DO UPDATE … RETURNING``, a ``DELETE`` of the
old items, one multi-row ``INSERT`` of the new ones) and the commit. It answers a small JSON
body with the session's id, total and update count. There is no authentication, no profile,
no rule evaluation and no Talon.One rendering: whatever the real endpoint costs above this is
what those cost, plus the ORM and DRF.

It writes the same tables as the endpoint, in the application named by the environment
variable ``BENCH_APPLICATION_ID``, and runs behind the project's middleware, served with
``DJANGO_SETTINGS_MODULE=benchmarks.bare_settings`` (this module is its URLconf). Not part of
the product: only the benchmark imports it.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from campaigns.models import CartItem, CustomerSession

JSON = "application/json"

SESSIONS = CustomerSession._meta.db_table
ITEMS = CartItem._meta.db_table

SESSION_UPSERT = f"""
INSERT INTO {SESSIONS} AS s (
    application_id, integration_id, store_integration_id, state, coupon_codes, referral_code,
    loyalty_cards, identifiers, attributes, additional_costs, first_session, update_count,
    total, cart_item_total, additional_cost_total, cart_item_additional_cost_total,
    created, updated
)
VALUES (%s, %s, '', 'open', '[]', '', '[]', '[]', '{{}}', '{{}}', false, 0, %s, %s, 0, 0,
        now(), now())
ON CONFLICT (application_id, integration_id) DO UPDATE SET
    total = EXCLUDED.total,
    cart_item_total = EXCLUDED.cart_item_total,
    update_count = s.update_count + 1,
    updated = EXCLUDED.updated
RETURNING id, update_count
"""

ITEMS_DELETE = f"DELETE FROM {ITEMS} WHERE session_id = %s"

ITEMS_INSERT = f"""
INSERT INTO {ITEMS} (
    session_id, position, sku, name, category, product_name, quantity, returned_quantity,
    remaining_quantity, price, weight, attributes, additional_costs
)
VALUES """
ITEM_VALUES = "(%s, %s, %s, %s, %s, %s, %s, 0, %s, %s, %s, '{}', '{}')"


class Invalid(ValueError):
    """A body the bare view cannot use."""


@cache
def application_id() -> int:
    return int(os.environ["BENCH_APPLICATION_ID"])


def _text(value: Any, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise Invalid("a text field is not text")
    return value


def _number(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or value < 0:
        raise Invalid("a number is not a non-negative number")
    return Decimal(value)


def parse_items(body: Any) -> list[tuple[Any, ...]]:
    """The cart items as rows: ``(sku, name, category, product_name, quantity, price, weight)``.

    Checks what the columns need (text is text, quantities are positive integers, prices and
    weights non-negative numbers), nothing more."""
    if not isinstance(body, dict) or not isinstance(body.get("customerSession"), dict):
        raise Invalid("customerSession is required")
    items = body["customerSession"].get("cartItems") or []
    if not isinstance(items, list):
        raise Invalid("cartItems must be a list")
    rows = []
    for item in items:
        if not isinstance(item, dict):
            raise Invalid("a cart item must be an object")
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise Invalid("quantity must be a positive integer")
        product = item.get("product")
        rows.append(
            (
                _text(item.get("sku"), required=True),
                _text(item.get("name")),
                _text(item.get("category")),
                _text(product.get("name")) if isinstance(product, dict) else "",
                quantity,
                _number(item.get("price")) or Decimal(0),
                _number(item.get("weight")),
            )
        )
    return rows


def upsert(integration_id: str, rows: list[tuple[Any, ...]]) -> tuple[int, int, Decimal]:
    """Write the session and its items in one transaction: ``(id, update count, total)``."""
    total = sum((row[5] * row[4] for row in rows), Decimal(0))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(SESSION_UPSERT, [application_id(), integration_id, total, total])
        session_id, update_count = cursor.fetchone()
        cursor.execute(ITEMS_DELETE, [session_id])
        if rows:
            params: list[Any] = []
            for position, (sku, name, category, product, quantity, price, weight) in enumerate(
                rows
            ):
                params += [session_id, position, sku, name, category, product]
                params += [quantity, quantity, price, weight]
            cursor.execute(ITEMS_INSERT + ", ".join([ITEM_VALUES] * len(rows)), params)
    return session_id, update_count, total


@csrf_exempt
def customer_session(request: HttpRequest, customer_session_id: str) -> HttpResponse:
    if request.method != "PUT":
        return HttpResponse(status=405, headers={"Allow": "PUT"})
    try:
        rows = parse_items(json.loads(request.body, parse_float=Decimal))
    except (ValueError, RecursionError) as error:  # Invalid and JSONDecodeError included
        answer = json.dumps({"message": str(error)}).encode()
        return HttpResponse(answer, status=400, content_type=JSON)
    session_id, update_count, total = upsert(customer_session_id, rows)
    answer = {
        "customerSession": {
            "id": session_id,
            "integrationId": customer_session_id,
            "state": "open",
            "total": str(total),
            "updateCount": update_count,
            "cartItems": len(rows),
        },
        "effects": [],
    }
    return HttpResponse(json.dumps(answer).encode(), content_type=JSON)


def ping(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b'{"status": "ok"}', content_type=JSON)


urlpatterns = [
    path("v2/customer_sessions/<str:customer_session_id>", customer_session),
    path("healthz", ping),
]
