"""Coupons: create them, find the ones a session names, say why one cannot be used, redeem
them when a session closes and give them back when it is cancelled or returned.

Codes are stored and looked up normalised by the application's case sensitivity
(``coupon_code_normalised``), so ``summer10`` finds ``SUMMER10`` in an application that ignores
case, and the unique constraint on ``(application, value)`` refuses the second of two codes that
differ only in case.

Concurrency: the counters are changed by the database, never read, changed and written back.

- **Redeeming** is one conditional ``UPDATE coupon SET usage_counter = usage_counter + 1 WHERE
  id = … AND (usage_limit = 0 OR usage_counter < usage_limit)``. PostgreSQL takes the row's
  lock for the update and, when another transaction updated the row first, waits for it and
  evaluates the ``WHERE`` again on the committed row: of a hundred sessions racing for the last
  use, exactly one updates a row and the others update none (and are refused). The
  ``CHECK (usage_limit = 0 OR usage_counter <= usage_limit)`` constraint is the net under it.
- **Giving back** is one conditional ``UPDATE coupon_redemption SET rolled_back_at = now WHERE
  session_id = … AND rolled_back_at IS NULL RETURNING coupon_id``: a redemption is marked by
  exactly one call (a concurrent second call waits for the first, then finds the row no longer
  matches), and only the coupons of the rows that this call marked are decremented. A repeated
  cancel gives nothing back twice.
- **Idempotency per session**: a session has at most one live redemption of a coupon (a partial
  unique index), and ``coupon_redeem`` answers True without counting again when it finds one,
  so a retried close redeems once. This relies on the caller holding the session's row lock
  (``SELECT … FOR UPDATE``, as the session services do), which serialises two requests for the
  same session: the second sees the first's redemption. Without that lock the unique index
  still refuses the second redemption; ``coupon_redeem`` then undoes its count (a savepoint)
  and answers True, so nothing is ever counted twice.

Lock order, so that sessions sharing coupons cannot deadlock: first the session row (taken by
the caller), then coupon rows in ascending id order. ``coupon_redeem`` locks one coupon (its
``UPDATE``); a caller redeeming several coupons calls it in ascending ``coupon.id`` order.
``coupon_redemptions_roll_back`` locks the session's coupons in id order (``SELECT … ORDER BY
id FOR NO KEY UPDATE``) before decrementing them in one statement. A session's redemption rows
are only touched under its session's lock, so they add no cycle.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q

from campaigns.models import (
    Application,
    Campaign,
    Coupon,
    CouponRedemption,
    CustomerProfile,
    CustomerSession,
)
from campaigns.models.applications import CaseSensitivity
from campaigns.models.coupons import COUPON_COUNT_LIMIT_MAX, COUPON_VALUE_MAX_LENGTH
from campaigns.models.customers import INTEGRATION_ID_MAX_LENGTH, MONEY_DIGITS, MONEY_PLACES
from rules.effects import CouponRejectionReason

_MONEY_MAX = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES)
"""The first amount a money column cannot hold."""


class CouponExists(Exception):
    """The application already has a coupon with this code (compared as the application
    compares codes)."""

    def __init__(self, value: str) -> None:
        super().__init__(f"a coupon with the code {value!r} already exists in this application")
        self.value = value


class CouponInvalid(ValueError):
    """A coupon that cannot be created as asked; ``field`` names the offending argument."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def coupon_code_normalised(*, application: Application, value: str) -> str:
    """``value`` as the application stores and compares codes: upper-cased, lower-cased, or as
    given (``Application.case_sensitivity``)."""
    sensitivity = application.case_sensitivity
    if sensitivity == CaseSensitivity.INSENSITIVE_UPPERCASE:
        return value.upper()
    if sensitivity == CaseSensitivity.INSENSITIVE_LOWERCASE:
        return value.lower()
    return value


def coupons_find(*, application: Application, values: Sequence[str]) -> dict[str, Coupon]:
    """The application's coupons named by ``values``, keyed by each value as the caller sent it
    (two values that normalise to the same code both map to its coupon); a value that names no
    coupon is left out. One query; each coupon comes with its campaign."""
    codes = {
        value: coupon_code_normalised(application=application, value=value) for value in values
    }
    wanted = {code for code in codes.values() if 0 < len(code) <= COUPON_VALUE_MAX_LENGTH}
    if not wanted:
        return {}
    found = {
        coupon.value: coupon
        for coupon in Coupon.objects.filter(application=application, value__in=wanted)
        .select_related("campaign")
        .order_by()
    }
    return {value: found[code] for value, code in codes.items() if code in found}


def coupon_rejection(
    coupon: Coupon | None,
    *,
    now: datetime,
    profile_integration_id: str | None,
    running_campaign_ids: Collection[int],
) -> CouponRejectionReason | None:
    """Why the coupon cannot be used now by this customer, or None when it can.

    The reference Talon.One material names the reasons but not their order, so the checks go
    from what concerns everyone to what concerns this customer and this moment: the code
    exists (``CouponNotFound``); its campaign runs (``CouponPartOfNotRunningCampaign``); it has
    started (``CouponStartDateInFuture``) and not expired (``CouponExpired``: at
    ``expiry_date`` it is expired); it is this customer's, when it names a recipient
    (``CouponRecipientDoesNotMatch``, an anonymous session included); it has uses left
    (``CouponLimitReached``). The limit comes last because it is the only check whose answer
    can change before the session closes: ``coupon_redeem`` asks it again, in the database.

    Reads nothing from the database: ``profile_integration_id`` is the session's customer (None
    for an anonymous session) and ``running_campaign_ids`` the application's running campaigns.
    """
    if coupon is None:
        return CouponRejectionReason.COUPON_NOT_FOUND
    if coupon.campaign_id not in running_campaign_ids:
        return CouponRejectionReason.COUPON_PART_OF_NOT_RUNNING_CAMPAIGN
    if coupon.start_date is not None and coupon.start_date > now:
        return CouponRejectionReason.COUPON_START_DATE_IN_FUTURE
    if coupon.expiry_date is not None and coupon.expiry_date <= now:
        return CouponRejectionReason.COUPON_EXPIRED
    if coupon.recipient_integration_id and (
        coupon.recipient_integration_id != profile_integration_id
    ):
        return CouponRejectionReason.COUPON_RECIPIENT_DOES_NOT_MATCH
    if coupon.usage_limit > 0 and coupon.usage_counter >= coupon.usage_limit:
        return CouponRejectionReason.COUPON_LIMIT_REACHED
    return None


def coupon_redeem(
    *,
    coupon: Coupon,
    session: CustomerSession,
    profile: CustomerProfile | None,
    now: datetime,
) -> bool:
    """Count one use of the coupon by the session, unless its limit is reached.

    True when the session has redeemed the coupon (now, or already: a live redemption of this
    coupon by this session counts once however often the close is retried); False when the
    coupon has no use left, and then nothing is written.

    Call it inside the transaction that holds the session's row lock (see the module
    docstring), and, for several coupons, in ascending ``coupon.id`` order. The coupon's
    counters in memory are not refreshed.
    """
    if coupon.application_id != session.application_id:
        raise ValueError(
            f"coupon {coupon.pk} and session {session.pk} belong to different applications"
        )
    live = CouponRedemption.objects.filter(
        coupon=coupon, session=session, rolled_back_at__isnull=True
    )
    if live.exists():
        return True
    try:
        with transaction.atomic():
            counted = (
                Coupon.objects.filter(pk=coupon.pk)
                .filter(Q(usage_limit=0) | Q(usage_counter__lt=F("usage_limit")))
                .update(usage_counter=F("usage_counter") + 1)
            )
            if not counted:
                return False
            CouponRedemption.objects.create(
                coupon=coupon, session=session, profile=profile, created=now
            )
    except IntegrityError:
        # Only a redemption by a concurrent request for the same session, committed since the
        # check above, makes the insert fail; the savepoint has undone this call's count.
        if live.exists():
            return True
        raise
    return True


def coupon_redemptions_roll_back(*, session: CustomerSession, now: datetime) -> list[Coupon]:
    """Give back every live redemption of the session, once: mark them rolled back and take
    one use off each of their coupons. The coupons given back, in id order, with their
    counters as they now are (for the ``rollbackCoupon`` effects); none when there was nothing
    live (a second call, or a concurrent one that came first)."""
    with transaction.atomic():  # marked and given back together, or neither
        coupon_ids = _redemptions_mark_rolled_back(session=session, now=now)
        if not coupon_ids:
            return []
        coupons = list(
            Coupon.objects.select_for_update(no_key=True).filter(pk__in=coupon_ids).order_by("pk")
        )
        # A counter an operator set below the uses still live stays at 0 rather than failing
        # the cancel: the redemption is given back either way.
        Coupon.objects.filter(pk__in=coupon_ids, usage_counter__gt=0).update(
            usage_counter=F("usage_counter") - 1
        )
    for coupon in coupons:
        coupon.usage_counter = max(coupon.usage_counter - 1, 0)
    return coupons


def _redemptions_mark_rolled_back(*, session: CustomerSession, now: datetime) -> list[int]:
    """Mark the session's live redemptions rolled back, in one conditional statement, and
    return the coupon ids of the rows this statement marked (``RETURNING``, which the ORM's
    ``update`` cannot do)."""
    meta = CouponRedemption._meta
    quote = connection.ops.quote_name
    rolled_back_at = meta.get_field("rolled_back_at")
    session_column = quote(meta.get_field("session").column)
    coupon_column = quote(meta.get_field("coupon").column)
    rolled_back_column = quote(rolled_back_at.column)
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {rolled_back_column} = %s "  # noqa: S608 (names only)
        f"WHERE {session_column} = %s AND {rolled_back_column} IS NULL "
        f"RETURNING {coupon_column}"
    )
    params: list[Any] = [rolled_back_at.get_db_prep_save(now, connection), session.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(row[0] for row in cursor.fetchall())


def coupon_create(
    *,
    campaign: Campaign,
    value: str,
    usage_limit: int = 1,
    discount_limit: Decimal | int = 0,
    reservation_limit: int = 0,
    start_date: datetime | None = None,
    expiry_date: datetime | None = None,
    recipient_integration_id: str = "",
    attributes: dict[str, Any] | None = None,
    batch_id: str = "",
) -> Coupon:
    """A new coupon of the campaign, its code normalised as its application compares codes.

    Raises ``CouponInvalid`` for an argument out of range and ``CouponExists`` when the
    application already has the code.
    """
    application = campaign.application
    code = coupon_code_normalised(application=application, value=value)
    discount_limit = Decimal(discount_limit)
    _check(code=code, usage_limit=usage_limit, discount_limit=discount_limit)
    if not 0 <= reservation_limit <= COUPON_COUNT_LIMIT_MAX:
        raise CouponInvalid("reservation_limit", f"is between 0 and {COUPON_COUNT_LIMIT_MAX}")
    if start_date is not None and expiry_date is not None and expiry_date <= start_date:
        raise CouponInvalid("expiry_date", "is after the start date")
    if len(recipient_integration_id) > INTEGRATION_ID_MAX_LENGTH:
        raise CouponInvalid(
            "recipient_integration_id", f"has at most {INTEGRATION_ID_MAX_LENGTH} characters"
        )
    if attributes is not None and not isinstance(attributes, dict):
        raise CouponInvalid("attributes", "is an object")
    try:
        with transaction.atomic():
            return Coupon.objects.create(
                application=application,
                campaign=campaign,
                value=code,
                usage_limit=usage_limit,
                discount_limit=discount_limit,
                reservation_limit=reservation_limit,
                start_date=start_date,
                expiry_date=expiry_date,
                recipient_integration_id=recipient_integration_id,
                attributes=attributes if attributes is not None else {},
                batch_id=batch_id,
            )
    except IntegrityError:
        if Coupon.objects.filter(application=application, value=code).exists():
            raise CouponExists(code) from None
        raise


def _check(*, code: str, usage_limit: int, discount_limit: Decimal) -> None:
    if not code:
        raise CouponInvalid("value", "is not empty")
    if len(code) > COUPON_VALUE_MAX_LENGTH:
        raise CouponInvalid("value", f"has at most {COUPON_VALUE_MAX_LENGTH} characters")
    if not 0 <= usage_limit <= COUPON_COUNT_LIMIT_MAX:
        raise CouponInvalid("usage_limit", f"is between 0 and {COUPON_COUNT_LIMIT_MAX}")
    if not discount_limit.is_finite() or not 0 <= discount_limit < _MONEY_MAX:
        raise CouponInvalid("discount_limit", f"is at least 0 and below {_MONEY_MAX}")
