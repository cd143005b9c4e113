"""A campaign's performance over time (the Management API's ``getCampaignAnalytics``).

``campaign_analytics`` cuts ``[start, end)`` into periods of the application's time zone (an
hour, a day, an ISO week from Monday, a month, a year: ``GRANULARITIES``) and gives, for each
period, what happened in it (the part of it within the range) and the total since the campaign
began up to the period's end. Every figure is summed by the database, grouped by period, from
two logs:

- the **effect log** (``EffectRecord``) of the campaign, written when a session closes and
  marked ``rolled_back_at`` when a cancel, a reopening or a return takes an effect back. A
  partial return marks a discount's record rolled back and writes a *replacement* record (what
  the customer keeps) at the same instant; a replacement is recognised as a discount record of
  the same session and campaign created exactly when another one was rolled back.
- the **sessions** (``CustomerSession``) the campaign produced effects in, and their returns
  (``talon_session_partially_returned`` events, which list the returned items).

What each figure counts (``Figures``):

- ``discount_costs``: the value of the campaign's discounts (``setDiscount``,
  ``setDiscountPerItem``) when they were granted, at closing; replacements are not new grants.
- ``refunded_discounts``: the value of discounts taken back (by cancelling, reopening or a
  return), when they were taken back: what the ``rollbackDiscount`` effects gave back.
- ``revenue``: the ``total`` of each session the campaign produced an effect in at closing,
  counted when it (last) closed, if it is still closed or partially returned (a cancelled or
  reopened session is no revenue). The total is the session's as it stands, after returns.
- ``refund``: the price of the items returned from those sessions, when they were returned.
- ``free_items``: items given by ``addFreeItem`` (its desired quantity, else one).
- ``coupon_redemptions`` and ``referral_redemptions``: ``acceptCoupon``/``acceptReferral``
  effects confirmed at closing; ``coupon_rolledback_redemptions``: those taken back since.
- ``coupons_created``, ``referrals_created``: the rule engine's ``couponCreated`` and
  ``referralCreated`` effects.
- ``added_loyalty_points``, ``deducted_loyalty_points``: the points of ``addLoyaltyPoints`` and
  ``deductLoyaltyPoints`` effects.

Money is in the application's currency, rounded to its minor unit.

The queries are Django's ORM and run alike on PostgreSQL and on SQLite (the embedded default):
``Trunc`` in the application's time zone makes the periods, conditional ``Sum``/``Count`` the
figures. One piece has no portable spelling, turning a return's list of items into rows; it is
isolated in ``ReturnedPrice``.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Final

from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    Expression,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, NullIf, Trunc

from campaigns.json_queries import PerBackend
from campaigns.models import Campaign, CartItem, CustomerSession, EffectRecord, Event
from campaigns.services.sessions import RETURN_EVENT_TYPE
from rules.effects import (
    AcceptCoupon,
    AcceptReferral,
    AddFreeItem,
    AddLoyaltyPoints,
    CreateCoupon,
    CreateReferral,
    DeductLoyaltyPoints,
    SetDiscount,
    SetDiscountPerItem,
)

#: Talon.One's ``granularity`` values → the ``kind`` of Django's ``Trunc`` (``date_trunc``'s unit).
GRANULARITIES: Final = {
    "1 hour": "hour",
    "1 day": "day",
    "1 week": "week",
    "1 month": "month",
    "1 year": "year",
}

#: Ours: the most periods one answer holds (over five years of days, over two months of hours).
MAX_PERIODS: Final = 2_000

_MONEY: Final = ("discount_costs", "refunded_discounts", "revenue", "refund")


@dataclass
class Figures:
    """What happened in one period (or since the campaign began); see the module."""

    revenue: Decimal = Decimal(0)
    refund: Decimal = Decimal(0)
    discount_costs: Decimal = Decimal(0)
    refunded_discounts: Decimal = Decimal(0)
    free_items: Decimal = Decimal(0)
    coupon_redemptions: Decimal = Decimal(0)
    coupon_rolledback_redemptions: Decimal = Decimal(0)
    referral_redemptions: Decimal = Decimal(0)
    coupons_created: Decimal = Decimal(0)
    referrals_created: Decimal = Decimal(0)
    added_loyalty_points: Decimal = Decimal(0)
    deducted_loyalty_points: Decimal = Decimal(0)

    def plus(self, other: Figures) -> Figures:
        return Figures(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    def rounded(self, places: int) -> Figures:
        """Money to ``places`` decimals, everything else as it is."""
        step = Decimal(1).scaleb(-places)
        return Figures(
            **{
                f.name: getattr(self, f.name).quantize(step)
                if f.name in _MONEY
                else getattr(self, f.name)
                for f in fields(self)
            }
        )


@dataclass(frozen=True)
class Period:
    """One period of the answer: where it starts (in the application's time zone), what
    happened in it, and the totals since the campaign began up to its end."""

    start: datetime
    figures: Figures
    totals: Figures


def periods_between(
    start: datetime, end: datetime, *, granularity: str, time_zone: str
) -> list[datetime]:
    """The starts (naive, local to ``time_zone``) of the periods ``[start, end)`` touches.
    Raises ``ValueError`` when there are more than ``MAX_PERIODS``."""
    zone = zoneinfo.ZoneInfo(time_zone)
    unit = GRANULARITIES[granularity]
    first = _truncated(start.astimezone(zone).replace(tzinfo=None), unit)
    last = end.astimezone(zone).replace(tzinfo=None)
    starts: list[datetime] = []
    for moment in _steps(first, unit):
        if moment >= last:
            break
        if len(starts) == MAX_PERIODS:
            raise ValueError(f"more than {MAX_PERIODS} periods")
        starts.append(moment)
    return starts


def _truncated(moment: datetime, unit: str) -> datetime:
    """``Trunc(moment, unit)``, as the database computes it (weeks start on Monday)."""
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _steps(first: datetime, unit: str) -> Iterator[datetime]:
    moment = first
    while True:
        yield moment
        if unit == "hour":
            moment += timedelta(hours=1)
        elif unit == "day":
            moment += timedelta(days=1)
        elif unit == "week":
            moment += timedelta(weeks=1)
        elif unit == "month":
            moment = moment.replace(
                year=moment.year + moment.month // 12, month=moment.month % 12 + 1
            )
        else:
            moment = moment.replace(year=moment.year + 1)


def campaign_analytics(
    *, campaign: Campaign, start: datetime, end: datetime, granularity: str
) -> list[Period]:
    """The campaign's figures per period of ``granularity`` over ``[start, end)`` (see the
    module). Raises ``ValueError`` for more than ``MAX_PERIODS`` periods."""
    application = campaign.application
    starts = periods_between(start, end, granularity=granularity, time_zone=application.timezone)
    before, per_period = _sums(
        campaign=campaign,
        start=start,
        end=end,
        unit=GRANULARITIES[granularity],
        time_zone=application.timezone,
    )
    places = application.minor_units
    totals = before
    periods = []
    for period_start in starts:
        figures = per_period.get(period_start, Figures())
        totals = totals.plus(figures)
        aware = period_start.replace(tzinfo=zoneinfo.ZoneInfo(application.timezone))
        periods.append(Period(aware, figures.rounded(places), totals.rounded(places)))
    return periods


#: The campaign's discounts: the effects whose ``value`` is a discount's cost.
_DISCOUNTS: Final = (SetDiscount.effect_type, SetDiscountPerItem.effect_type)

#: The states of a session whose total is revenue.
_CONFIRMED: Final = (CustomerSession.State.CLOSED, CustomerSession.State.PARTIALLY_RETURNED)

#: Numbers read from the logs (props, prices, totals): wide enough for any of them, and as
#: precise as the money columns.
_NUMBER: Final[DecimalField[Any, Any]] = DecimalField(max_digits=30, decimal_places=6)


class ReturnedPrice(PerBackend):
    """The price of the items one return event lists: over its ``returnedCartItems``, each
    ``quantity`` times the price of the session's cart item at that ``position``.

    A correlated subquery over the event's JSON array, the one thing here Django's ORM cannot
    say, and that each backend spells its own way (PostgreSQL ``jsonb_array_elements``, SQLite
    ``json_each``); everything around it is the ORM's. Its source expressions are the event's
    ``attributes`` and ``session_id``. The return service writes these events with their
    session and a well-formed list; events sent by a shop have no session and never match.
    """

    output_field = _NUMBER

    TEMPLATES: ClassVar[Mapping[str, str]] = {
        "postgresql": (
            "(SELECT SUM((returned ->> 'quantity')::numeric * item.price)"
            " FROM jsonb_array_elements({attributes} -> 'returnedCartItems') AS returned"
            " JOIN {items} item ON item.session_id = {session}"
            " AND item.position = (returned ->> 'position')::integer)"
        ),
        "sqlite": (
            "(SELECT SUM(json_extract(returned.value, '$.quantity') * item.price)"
            " FROM json_each({attributes}, '$.returnedCartItems') AS returned"
            " JOIN {items} item ON item.session_id = {session}"
            " AND item.position = json_extract(returned.value, '$.position'))"
        ),
    }
    PARTS = ("attributes", "session")
    TABLES: ClassVar[Mapping[str, Any]] = {"items": CartItem}

    def __init__(self) -> None:
        super().__init__(F("attributes"), F("session_id"))


def _number(key: str) -> Cast:
    """``props[key]`` as a number (props hold numbers as JSON numbers or numeric strings);
    NULL when it is missing or a JSON null.

    SQLite reads a JSON null as the text ``'null'`` (which it would cast to 0) where
    PostgreSQL reads NULL; ``NULLIF`` makes both NULL."""
    return Cast(NullIf(KeyTextTransform(key, "props"), Value("null")), _NUMBER)


def _sum(amount: Expression | F, condition: Q | None = None) -> Coalesce:
    """The sum of ``amount`` over the rows meeting ``condition``; zero when there are none."""
    return Coalesce(Sum(amount, filter=condition), Value(Decimal(0)), output_field=_NUMBER)


def _count(condition: Q) -> Count:
    """How many rows meet ``condition``."""
    return Count("pk", filter=condition)


def _replacement() -> Q:
    """A discount record written by a partial return in place of a rolled-back one: another
    discount record of the same session and campaign was rolled back exactly when it was
    created. It is what the customer keeps, not a new grant."""
    replaced = EffectRecord.objects.filter(
        session=OuterRef("session"),
        campaign=OuterRef("campaign"),
        rolled_back_at=OuterRef("created"),
        effect_type__in=_DISCOUNTS,
    ).exclude(pk=OuterRef("pk"))
    return Q(effect_type__in=_DISCOUNTS) & Q(Exists(replaced))


@dataclass(frozen=True)
class _Flow:
    """Figures read from one log, each row counted at one moment (a field of ``rows``)."""

    rows: QuerySet[Any]
    moment: str
    figures: dict[str, Coalesce | Count]


def _flows(campaign: Campaign) -> list[_Flow]:
    """Where each figure comes from and when it counts (see the module)."""
    effects = EffectRecord.objects.filter(campaign=campaign)
    influenced = effects.filter(session__isnull=False).values("session")
    # When a session (last) closed: its latest record that is not a replacement.
    closing = (
        effects.filter(~_replacement(), session=OuterRef("pk"))
        .order_by()
        .values("session")
        .annotate(closed=Max("created"))
        .values("closed")
    )
    return [
        _Flow(
            rows=effects,
            moment="created",
            figures={
                "discount_costs": _sum(
                    _number("value"), Q(effect_type__in=_DISCOUNTS) & ~_replacement()
                ),
                # The rolled-back record counts whole when it is rolled back (the next flow);
                # what the customer keeps of it, its replacement, was not given back.
                "refunded_discounts": _sum(-_number("value"), _replacement()),
                "free_items": _sum(
                    Coalesce(_number("desiredQuantity"), Value(Decimal(1)), output_field=_NUMBER),
                    Q(effect_type=AddFreeItem.effect_type),
                ),
                "coupon_redemptions": _count(Q(effect_type=AcceptCoupon.effect_type)),
                "referral_redemptions": _count(Q(effect_type=AcceptReferral.effect_type)),
                "coupons_created": _count(Q(effect_type=CreateCoupon.effect_type)),
                "referrals_created": _count(Q(effect_type=CreateReferral.effect_type)),
                "added_loyalty_points": _sum(
                    _number("value"), Q(effect_type=AddLoyaltyPoints.effect_type)
                ),
                "deducted_loyalty_points": _sum(
                    _number("value"), Q(effect_type=DeductLoyaltyPoints.effect_type)
                ),
            },
        ),
        _Flow(
            rows=effects.filter(rolled_back_at__isnull=False),
            moment="rolled_back_at",
            figures={
                "refunded_discounts": _sum(_number("value"), Q(effect_type__in=_DISCOUNTS)),
                "coupon_rolledback_redemptions": _count(Q(effect_type=AcceptCoupon.effect_type)),
            },
        ),
        _Flow(
            rows=CustomerSession.objects.filter(pk__in=influenced, state__in=_CONFIRMED).annotate(
                closed=Subquery(closing)
            ),
            moment="closed",
            figures={"revenue": _sum(F("total"))},
        ),
        _Flow(
            rows=Event.objects.filter(type=RETURN_EVENT_TYPE, session__in=influenced),
            moment="created",
            figures={"refund": _sum(ReturnedPrice())},
        ),
    ]


def _sums(
    *, campaign: Campaign, start: datetime, end: datetime, unit: str, time_zone: str
) -> tuple[Figures, dict[datetime, Figures]]:
    """The figures before ``start``, and per period of ``[start, end)`` (keyed by the period's
    naive local start): one query per ``_Flow``, grouped by period in the database."""
    zone = zoneinfo.ZoneInfo(time_zone)
    before = Figures()
    per_period: dict[datetime, Figures] = {}
    for flow in _flows(campaign):
        # Rows before ``start`` have no period (NULL): together they are ``before``.
        in_range = Case(When(**{f"{flow.moment}__gte": start}, then=F(flow.moment)))
        rows = (
            flow.rows.filter(**{f"{flow.moment}__lt": end})
            .order_by()  # a model's default ordering would split the groups
            .values(period=Trunc(in_range, unit, tzinfo=zone))
            .annotate(**flow.figures)
        )
        for row in rows:
            period = row.pop("period")
            figures = (
                before
                if period is None
                else per_period.setdefault(period.replace(tzinfo=None), Figures())
            )
            for name, amount in row.items():
                setattr(figures, name, getattr(figures, name) + Decimal(amount))
    return before, per_period
