"""Coupon reservations: ``POST`` and ``DELETE /v1/coupon_reservations/{couponValue}`` (body
``{integrationIDs: [...]}``) and ``GET /v1/coupon_reservations/customerprofiles/{couponValue}``,
thin views over ``coupon_reserve``, ``coupon_unreserve`` and ``coupon_reservations_list``.

- ``POST`` reserves the coupon for each customer (creating those the application does not know
  yet) and answers 201 with the coupon, ``reservationCounter`` included. Reserving again for a
  customer who holds a reservation changes nothing. A request that would pass the coupon's
  ``reservationLimit`` is a 400 and reserves nothing (Talon.One's endpoint ignores the limit;
  see ``coupon_reserve``).
- ``DELETE`` cancels the customers' reservations and answers 204; a customer without one is
  passed over.
- ``GET`` answers ``{totalResultSize, data}``, the customers holding a reservation, earliest
  first, each as a customer profile.

The coupon is looked up as the application compares codes; an unknown code, or another
application's, is a 404. A body that is not ``{integrationIDs: [1 to 1,000 strings]}``, each of
1 to 1,000 characters, is a 400 pointing at the offending item, and nothing is written.
"""

from __future__ import annotations

import dataclasses
from http import HTTPStatus
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from rest_framework.request import Request

from campaigns.compiled import attribute_schema_get
from campaigns.models import Coupon
from campaigns.models.customers import INTEGRATION_ID_MAX_LENGTH
from campaigns.services.coupons import (
    MAX_RESERVATIONS_PER_REQUEST,
    CouponReservationLimitReached,
    coupon_reservations_list,
    coupon_reserve,
    coupon_unreserve,
)
from integration.errors import BadRequest, ErrorItem, NotFound
from integration.payloads import (
    TITLE_LIMIT,
    TITLE_REQUIRED,
    TITLE_TYPE,
    TITLE_VALUE,
    PayloadError,
    Problem,
)
from integration.render import dumps, render_coupon, render_customer_profile
from integration.sessions import JSON, coupon_view, json_response, profile_view
from integration.views import IntegrationView

_IDS = "/integrationIDs"


def parse_integration_ids(body: Any) -> tuple[str, ...]:
    """``integrationIDs`` of a reservation request: at most ``MAX_RESERVATIONS_PER_REQUEST``
    strings of 1 to ``INTEGRATION_ID_MAX_LENGTH`` characters. Raises ``PayloadError`` with
    every problem found."""
    if not isinstance(body, dict):
        raise PayloadError([("", TITLE_TYPE, "the request body must be a JSON object")])
    ids = body.get("integrationIDs")
    if ids is None:
        raise PayloadError([(_IDS, TITLE_REQUIRED, "is required")])
    if not isinstance(ids, list):
        raise PayloadError([(_IDS, TITLE_TYPE, "must be an array of strings")])
    if len(ids) > MAX_RESERVATIONS_PER_REQUEST:
        details = f"must have at most {MAX_RESERVATIONS_PER_REQUEST} items, not {len(ids)}"
        raise PayloadError([(_IDS, TITLE_LIMIT, details)])
    problems: list[Problem] = []
    for index, integration_id in enumerate(ids):
        pointer = f"{_IDS}/{index}"
        if not isinstance(integration_id, str):
            problems.append((pointer, TITLE_TYPE, "must be a string"))
        elif not integration_id:
            problems.append((pointer, TITLE_VALUE, "must not be empty"))
        elif len(integration_id) > INTEGRATION_ID_MAX_LENGTH:
            details = f"must be at most {INTEGRATION_ID_MAX_LENGTH} characters long"
            problems.append((pointer, TITLE_LIMIT, details))
    if problems:
        raise PayloadError(problems)
    return tuple(ids)


def _no_coupon(value: str) -> NotFound:
    return NotFound(f"There is no coupon {value!r}.")


def render_reserved_coupon(coupon: Coupon) -> dict[str, Any]:
    """The coupon as the 201 answer shows it: as in a session's ``coupons``, with its
    reservation fields."""
    view = dataclasses.replace(
        coupon_view(coupon),
        reservation_counter=coupon.reservation_counter,
        is_reservation_mandatory=coupon.is_reservation_mandatory,
    )
    return render_coupon(view)


class CouponReservationsView(IntegrationView):
    """Reserve a coupon for customers (``POST``), or cancel their reservations (``DELETE``)."""

    operation = {"POST": "createCouponReservation", "DELETE": "deleteCouponReservation"}

    def post(self, request: Request, coupon_value: str) -> HttpResponse:
        integration_ids = parse_integration_ids(request.data)
        try:
            coupon = coupon_reserve(
                application=self.application,
                value=coupon_value,
                integration_ids=integration_ids,
                now=timezone.now(),
            )
        except Coupon.DoesNotExist:
            raise _no_coupon(coupon_value) from None
        except CouponReservationLimitReached as full:
            item = ErrorItem(
                code="reservation_limit_reached",
                title="Limit exceeded",
                details=str(full),
                pointer=_IDS,
            )
            raise BadRequest(
                "The coupon cannot be reserved for so many customers.",
                [item],
                code="reservation_limit_reached",
            ) from None
        return HttpResponse(
            dumps(render_reserved_coupon(coupon)), content_type=JSON, status=HTTPStatus.CREATED
        )

    def delete(self, request: Request, coupon_value: str) -> HttpResponse:
        integration_ids = parse_integration_ids(request.data)
        try:
            coupon_unreserve(
                application=self.application, value=coupon_value, integration_ids=integration_ids
            )
        except Coupon.DoesNotExist:
            raise _no_coupon(coupon_value) from None
        return HttpResponse(status=HTTPStatus.NO_CONTENT)


class ReservedCustomersView(IntegrationView):
    """The customers holding a reservation of a coupon (``GET``)."""

    operation = "getReservedCustomers"

    def get(self, request: Request, coupon_value: str) -> HttpResponse:
        try:
            profiles = coupon_reservations_list(application=self.application, value=coupon_value)
        except Coupon.DoesNotExist:
            raise _no_coupon(coupon_value) from None
        types = attribute_schema_get(application=self.application).types
        data = []
        for profile in profiles:
            view = profile_view(profile, types=types)
            assert view is not None
            data.append(render_customer_profile(view))
        return json_response({"totalResultSize": len(data), "data": data})
