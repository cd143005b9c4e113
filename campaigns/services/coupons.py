"""Coupons: create them, find the ones a session names, say why one cannot be used, redeem
them when a session closes and give them back when it is cancelled or returned; reserve them
for customers.

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
- **Per customer**, a redemption by a customer also counts one in the customer's
  ``CouponProfileCounter`` row, by one ``INSERT … ON CONFLICT (coupon, profile) DO UPDATE SET
  counter = counter + 1 WHERE profile_redemption_limit = 0 OR counter < profile_redemption_limit``
  in the same savepoint as the coupon's count: when the customer's limit is reached the upsert
  changes no row, the savepoint undoes the coupon's count, and neither is counted. Sessions of
  one customer closing at once hold different session locks, but each takes the coupon's row
  lock (its ``UPDATE``) before the customer's row, so they count one after the other, each
  seeing the count the one before committed.
- **Reserving** inserts the reservations (``ON CONFLICT DO NOTHING RETURNING``: a customer who
  already holds one adds nothing) and adds the number actually inserted to the coupon's
  ``reservation_counter`` by one conditional ``UPDATE … WHERE reservation_limit = 0 OR
  reservation_counter + n <= reservation_limit``; when that changes no row, the reservations are
  undone with it. Cancelling a reservation deletes it (``RETURNING``) and takes off what was
  deleted. A mandatory reservation is checked again when the session closes, under a ``FOR KEY
  SHARE`` lock on the reservation, so that a reservation cancelled meanwhile cannot be redeemed.
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
the caller), then coupon rows in ascending id order; for each coupon, its reservation before
it and the customer's counter after it. ``coupon_redeem`` locks one coupon (its ``UPDATE``); a
caller redeeming several coupons calls it in ascending ``coupon.id`` order.
``coupon_redemptions_roll_back`` locks the session's coupons in id order (``SELECT … ORDER BY
id FOR NO KEY UPDATE``) before decrementing them, then their customers' counters. A session's
redemption rows are only touched under its session's lock, and a customer's counter only under
its coupon's lock, so they add no cycle. Reserving and cancelling reservations touch one
coupon's reservations (in profile id order), then that coupon.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, TypeVar

from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, Max, Q, QuerySet, Value
from django.db.models.functions import Greatest

from campaigns.json_queries import having_included, having_instant, having_number
from campaigns.models import (
    Application,
    Campaign,
    Coupon,
    CouponProfileCounter,
    CouponRedemption,
    CouponReservation,
    CustomerProfile,
    CustomerSession,
)
from campaigns.models.applications import CaseSensitivity
from campaigns.models.attributes import AttributeEntity
from campaigns.models.coupons import COUPON_COUNT_LIMIT_MAX, COUPON_VALUE_MAX_LENGTH
from campaigns.models.customers import INTEGRATION_ID_MAX_LENGTH, MONEY_DIGITS, MONEY_PLACES
from campaigns.services.attribute_values import attribute_definitions, attributes_read
from rules.effects import CouponRejectionReason

ZERO = Decimal(0)

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
    """The application's coupons named by ``values`` (see ``codes_find``)."""
    return codes_find(
        Coupon,
        field="value",
        max_length=COUPON_VALUE_MAX_LENGTH,
        application=application,
        values=values,
    )


_Coded = TypeVar("_Coded", bound=models.Model)


def codes_find(
    model: type[_Coded],
    *,
    field: str,
    max_length: int,
    application: Application,
    values: Sequence[str],
) -> dict[str, _Coded]:
    """The application's ``model`` rows (coupons, referrals) whose code ``field`` is named by
    ``values``, keyed by each value as the caller sent it (two values that normalise to the
    same code both map to its row); a value that names none is left out. One query (none
    without a value that could exist); each row comes with its campaign."""
    codes = {
        value: coupon_code_normalised(application=application, value=value) for value in values
    }
    wanted = {code for code in codes.values() if 0 < len(code) <= max_length}
    if not wanted:
        return {}
    rows = model._default_manager.filter(application=application, **{f"{field}__in": wanted})
    found = {getattr(row, field): row for row in rows.select_related("campaign").order_by()}
    return {value: found[code] for value, code in codes.items() if code in found}


def coupon_rejection(
    coupon: Coupon | None,
    *,
    now: datetime,
    profile_integration_id: str | None,
    running_campaign_ids: Collection[int],
    reserved_by_profile: bool = False,
    profile_redemptions: int = 0,
) -> CouponRejectionReason | None:
    """Why the coupon cannot be used now by this customer, or None when it can.

    The reference Talon.One material names the reasons but not their order, so the checks go
    from what concerns everyone to what concerns this customer and this moment: the code
    exists (``CouponNotFound``); its campaign runs (``CouponPartOfNotRunningCampaign``); it has
    started (``CouponStartDateInFuture``) and not expired (``CouponExpired``: at
    ``expiry_date`` it is expired); it is this customer's, when it names a recipient
    (``CouponRecipientDoesNotMatch``, an anonymous session included); a session has a customer
    when the coupon must be reserved or limits each customer's uses (``ProfileRequired``, as
    Talon.One answers for a mandatory reservation or a per-profile budget without a profile);
    the customer reserved it, when reservation is mandatory (``CouponReservationRequired``; a
    coupon with a recipient is its recipient's without one); it has uses left
    (``CouponLimitReached``), and this customer too (``ProfileLimitReached``). The limits come
    last because they are the only checks whose answer can change before the session closes:
    ``coupon_redeem`` asks them again, in the database, in the same order.

    Reads nothing from the database: ``profile_integration_id`` is the session's customer (None
    for an anonymous session), ``running_campaign_ids`` the application's running campaigns,
    ``reserved_by_profile`` whether the customer holds a reservation of the coupon
    (``coupons_reserved``) and ``profile_redemptions`` how many live redemptions of it they
    have (``coupons_profile_redemptions``).
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
    if profile_integration_id is None and _needs_profile(coupon):
        return CouponRejectionReason.PROFILE_REQUIRED
    if _needs_reservation(coupon) and not reserved_by_profile:
        return CouponRejectionReason.COUPON_RESERVATION_REQUIRED
    if coupon.usage_limit > 0 and coupon.usage_counter >= coupon.usage_limit:
        return CouponRejectionReason.COUPON_LIMIT_REACHED
    if coupon.discount_limit > 0 and coupon.discount_counter >= coupon.discount_limit:
        return CouponRejectionReason.COUPON_LIMIT_REACHED  # its value is spent
    limit = coupon.profile_redemption_limit
    if limit > 0 and profile_redemptions >= limit:
        return CouponRejectionReason.PROFILE_LIMIT_REACHED
    return None


def _needs_reservation(coupon: Coupon) -> bool:
    """Whether only a customer holding a reservation may redeem the coupon: its reservation is
    mandatory and it names no recipient (a recipient's coupon is theirs, reserved or not)."""
    return coupon.is_reservation_mandatory and not coupon.recipient_integration_id


def _needs_profile(coupon: Coupon) -> bool:
    """Whether an anonymous session cannot redeem the coupon at all."""
    return _needs_reservation(coupon) or coupon.profile_redemption_limit > 0


def coupons_reserved(*, coupons: Iterable[Coupon], profile: CustomerProfile | None) -> set[int]:
    """The ids of those of ``coupons`` that ``profile`` has reserved, for ``coupon_rejection``'s
    ``reserved_by_profile``. One query; none without a profile or coupons."""
    ids = {coupon.pk for coupon in coupons}
    if profile is None or not ids:
        return set()
    return set(
        CouponReservation.objects.filter(profile=profile, coupon_id__in=ids)
        .order_by()
        .values_list("coupon_id", flat=True)
    )


def coupons_profile_redemptions(
    *, coupons: Iterable[Coupon], profile: CustomerProfile | None
) -> dict[int, int]:
    """How many live redemptions ``profile`` has of each of ``coupons`` that it redeemed, by
    coupon id (a coupon it never redeemed is left out: 0), for ``coupon_rejection``'s
    ``profile_redemptions`` and Talon.One's ``profileRedemptionCount``. One query; none
    without a profile or coupons."""
    ids = {coupon.pk for coupon in coupons}
    if profile is None or not ids:
        return {}
    return dict(
        CouponProfileCounter.objects.filter(profile=profile, coupon_id__in=ids, counter__gt=0)
        .order_by()
        .values_list("coupon_id", "counter")
    )


class _Refused(Exception):
    """Raised inside ``coupon_redeem_explained``'s savepoint to undo what it counted."""

    def __init__(self, reason: CouponRejectionReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


def coupon_redeem(
    *,
    coupon: Coupon,
    session: CustomerSession,
    profile: CustomerProfile | None,
    now: datetime,
) -> bool:
    """Count one use of the coupon by the session, unless a limit refuses it: True when the
    session has redeemed the coupon, False when nothing was written.

    ``coupon_redeem_explained``, without the reason of a refusal."""
    refusal = coupon_redeem_explained(coupon=coupon, session=session, profile=profile, now=now)
    return refusal is None


def coupon_redeem_explained(
    *,
    coupon: Coupon,
    session: CustomerSession,
    profile: CustomerProfile | None,
    now: datetime,
    discount: Decimal = ZERO,
) -> CouponRejectionReason | None:
    """Count one use of the coupon by the session, and ``discount`` of its discount limit (what
    the session's discounts in the coupon's campaign give), unless a limit refuses it.

    None when the session has redeemed the coupon (now, or already: a live redemption of this
    coupon by this session counts once however often the close is retried). Otherwise the
    reason, and nothing is written: ``ProfileRequired`` (an anonymous session, for a coupon
    that must be reserved or limits each customer's uses), ``CouponReservationRequired`` (the
    customer holds no reservation of a coupon that needs one), ``CouponLimitReached`` (the
    coupon has no use left, or not ``discount`` of its discount limit), ``ProfileLimitReached``
    (the customer has none left). The
    coupon's count and the customer's are made in one savepoint: both or neither.

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
        return None
    if profile is None and _needs_profile(coupon):
        return CouponRejectionReason.PROFILE_REQUIRED
    try:
        with transaction.atomic():
            if (
                profile is not None
                and _needs_reservation(coupon)
                and not _reservation_held(coupon=coupon, profile=profile)
            ):
                raise _Refused(CouponRejectionReason.COUPON_RESERVATION_REQUIRED)
            within = Q(usage_limit=0) | Q(usage_counter__lt=F("usage_limit"))
            if discount > ZERO:
                within &= Q(discount_limit=0) | Q(
                    discount_counter__lte=F("discount_limit") - discount
                )
            counted = (
                Coupon.objects.filter(pk=coupon.pk)
                .filter(within)
                .update(
                    usage_counter=F("usage_counter") + 1,
                    discount_counter=F("discount_counter") + discount,
                )
            )
            if not counted:
                raise _Refused(CouponRejectionReason.COUPON_LIMIT_REACHED)
            if profile is not None and not _profile_count_up(coupon=coupon, profile=profile):
                raise _Refused(CouponRejectionReason.PROFILE_LIMIT_REACHED)
            CouponRedemption.objects.create(
                coupon=coupon, session=session, profile=profile, created=now, discount=discount
            )
    except _Refused as refused:
        return refused.reason
    except IntegrityError:
        # Only a redemption by a concurrent request for the same session, committed since the
        # check above, makes the insert fail; the savepoint has undone this call's counts.
        if live.exists():
            return None
        raise
    return None


def _reservation_held(*, coupon: Coupon, profile: CustomerProfile) -> bool:
    """Whether the customer holds a reservation of the coupon, locked (``FOR KEY SHARE``) so
    that cancelling it waits for this transaction, and one cancelled meanwhile is not found.
    (SQLite has no row locks: a write there locks the whole database.)"""
    meta = CouponReservation._meta
    quote = connection.ops.quote_name
    sql = (
        f"SELECT 1 FROM {quote(meta.db_table)} "  # noqa: S608 (names only)
        f"WHERE {quote(meta.get_field('coupon').column)} = %s "
        f"AND {quote(meta.get_field('profile').column)} = %s"
    )
    if connection.features.has_select_for_update:
        sql += " FOR KEY SHARE"
    with connection.cursor() as cursor:
        cursor.execute(sql, [coupon.pk, profile.pk])
        return cursor.fetchone() is not None


def _profile_count_up(*, coupon: Coupon, profile: CustomerProfile) -> bool:
    """Count one use of the coupon by the customer, unless they reached the coupon's
    ``profile_redemption_limit`` (as the database has it): whether it was counted.

    One upsert: the first use inserts the row; a later one adds to it only while below the
    limit (``ON CONFLICT … DO UPDATE … WHERE``, which PostgreSQL evaluates on the row's latest
    committed version, after waiting for a transaction that changed it)."""
    meta = CouponProfileCounter._meta
    coupons = Coupon._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    coupon_column = quote(meta.get_field("coupon").column)
    profile_column = quote(meta.get_field("profile").column)
    counter = quote(meta.get_field("counter").column)
    cap = quote(meta.get_field("cap").column)
    limit = quote(coupons.get_field("profile_redemption_limit").column)
    # The count carries the limit it grew under (``cap``), so that a CHECK backs it.
    sql = (
        f"INSERT INTO {table} AS mine ({coupon_column}, {profile_column}, {counter}, {cap}) "  # noqa: S608 (names only)
        f"SELECT %s, %s, 1, coupon.{limit} FROM {quote(coupons.db_table)} AS coupon "
        f"WHERE coupon.{quote(coupons.pk.column)} = %s "
        f"ON CONFLICT ({coupon_column}, {profile_column}) "
        f"DO UPDATE SET {counter} = mine.{counter} + 1, {cap} = EXCLUDED.{cap} "
        f"WHERE EXCLUDED.{cap} = 0 OR mine.{counter} < EXCLUDED.{cap} "
        f"RETURNING {counter}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [coupon.pk, profile.pk, coupon.pk])
        return cursor.fetchone() is not None


def coupon_redemptions_roll_back(*, session: CustomerSession, now: datetime) -> list[Coupon]:
    """Give back every live redemption of the session, once: mark them rolled back and take
    one use off each of their coupons, and off their customers' counts. The coupons given
    back, in id order, with their counters as they now are (for the ``rollbackCoupon``
    effects); none when there was nothing live (a second call, or a concurrent one that came
    first)."""
    with transaction.atomic():  # marked and given back together, or neither
        marked = _redemptions_mark_rolled_back(session=session, now=now)
        if not marked:
            return []
        coupon_ids = sorted({coupon_id for coupon_id, _, _ in marked})
        coupons = list(
            Coupon.objects.select_for_update(no_key=True).filter(pk__in=coupon_ids).order_by("pk")
        )
        # A counter an operator set below the uses still live stays at 0 rather than failing
        # the cancel: the redemption is given back either way.
        Coupon.objects.filter(pk__in=coupon_ids, usage_counter__gt=0).update(
            usage_counter=F("usage_counter") - 1
        )
        # What the session's discounts drew of each coupon's discount limit, given back.
        for coupon_id, _, discount in marked:
            if discount > ZERO:
                Coupon.objects.filter(pk=coupon_id).update(
                    discount_counter=Greatest(F("discount_counter") - discount, Value(ZERO))
                )
        # A session has one live redemption of a coupon, so each pair is given back once; one
        # whose customer was forgotten has no count left to give back.
        customers = Q()
        for coupon_id, profile_id, _ in marked:
            if profile_id is not None:
                customers |= Q(coupon_id=coupon_id, profile_id=profile_id)
        if customers:
            CouponProfileCounter.objects.filter(customers, counter__gt=0).update(
                counter=F("counter") - 1
            )
    for coupon in coupons:
        coupon.usage_counter = max(coupon.usage_counter - 1, 0)
    return coupons


def _redemptions_mark_rolled_back(
    *, session: CustomerSession, now: datetime
) -> list[tuple[int, int | None, Decimal]]:
    """Mark the session's live redemptions rolled back, in one conditional statement, and
    return the ``(coupon id, profile id, discount)`` of the rows this statement marked
    (``RETURNING``, which the ORM's ``update`` cannot do)."""
    meta = CouponRedemption._meta
    quote = connection.ops.quote_name
    rolled_back_at = meta.get_field("rolled_back_at")
    session_column = quote(meta.get_field("session").column)
    coupon_column = quote(meta.get_field("coupon").column)
    profile_column = quote(meta.get_field("profile").column)
    discount_column = quote(meta.get_field("discount").column)
    rolled_back_column = quote(rolled_back_at.column)
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {rolled_back_column} = %s "  # noqa: S608 (names only)
        f"WHERE {session_column} = %s AND {rolled_back_column} IS NULL "
        f"RETURNING {coupon_column}, {profile_column}, {discount_column}"
    )
    params: list[Any] = [rolled_back_at.get_db_prep_save(now, connection), session.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted((row[0], row[1], Decimal(str(row[2]))) for row in cursor.fetchall())


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
    is_reservation_mandatory: bool = False,
    profile_redemption_limit: int = 0,
) -> Coupon:
    """A new coupon of the campaign, its code normalised as its application compares codes.

    Raises ``CouponInvalid`` for an argument out of range and ``CouponExists`` when the
    application already has the code.
    """
    application = campaign.application
    code = coupon_code_normalised(application=application, value=value)
    if not code:
        raise CouponInvalid("value", "is not empty")
    if len(code) > COUPON_VALUE_MAX_LENGTH:
        raise CouponInvalid("value", f"has at most {COUPON_VALUE_MAX_LENGTH} characters")
    discount_limit = coupon_terms_check(
        usage_limit=usage_limit,
        discount_limit=discount_limit,
        reservation_limit=reservation_limit,
        profile_redemption_limit=profile_redemption_limit,
        start_date=start_date,
        expiry_date=expiry_date,
        recipient_integration_id=recipient_integration_id,
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
                is_reservation_mandatory=is_reservation_mandatory,
                profile_redemption_limit=profile_redemption_limit,
            )
    except IntegrityError:
        if Coupon.objects.filter(application=application, value=code).exists():
            raise CouponExists(code) from None
        raise


def coupon_terms_check(
    *,
    usage_limit: int,
    discount_limit: Decimal | int,
    reservation_limit: int = 0,
    profile_redemption_limit: int = 0,
    start_date: datetime | None = None,
    expiry_date: datetime | None = None,
    recipient_integration_id: str = "",
) -> Decimal:
    """Check a coupon's terms (all but its code and attributes) before the database refuses
    them, naming the one at fault (``CouponInvalid``); the discount limit as a ``Decimal``."""
    for name, limit in (
        ("usage_limit", usage_limit),
        ("reservation_limit", reservation_limit),
        ("profile_redemption_limit", profile_redemption_limit),
    ):
        if not 0 <= limit <= COUPON_COUNT_LIMIT_MAX:
            raise CouponInvalid(name, f"is between 0 and {COUPON_COUNT_LIMIT_MAX}")
    discount = Decimal(discount_limit)
    if not discount.is_finite() or not 0 <= discount < _MONEY_MAX:
        raise CouponInvalid("discount_limit", f"is at least 0 and below {_MONEY_MAX}")
    if start_date is not None and expiry_date is not None and expiry_date <= start_date:
        raise CouponInvalid("expiry_date", "is after the start date")
    if len(recipient_integration_id) > INTEGRATION_ID_MAX_LENGTH:
        raise CouponInvalid(
            "recipient_integration_id", f"has at most {INTEGRATION_ID_MAX_LENGTH} characters"
        )
    return discount


def coupon_attributes_checked(application: Application, raw: Any) -> dict[str, Any]:
    """Coupon attributes as stored, each defined for coupons and of its type; raises
    ``CouponInvalid`` naming ``attributes``."""
    definitions = attribute_definitions(application, AttributeEntity.COUPON)
    stored, problem = attributes_read(raw or {}, definitions, entity=AttributeEntity.COUPON)
    if problem is not None:
        raise CouponInvalid("attributes", problem)
    return stored


def coupons_with_attributes(
    coupons: QuerySet[Coupon], *, application: Application, attributes: Mapping[str, Any]
) -> QuerySet[Coupon]:
    """``coupons`` narrowed to those whose attributes include every one of ``attributes``,
    each compared as its type: a number finds the same number however it was written (``12``
    finds ``12.0``), a time the same instant in any zone, a list the coupons whose list holds
    each of its elements, anything else the equal value (JSON containment, as Talon.One's
    coupon search; ``campaigns.json_queries``, alike on PostgreSQL and SQLite). Raises
    ``CouponInvalid`` (``attributes``) for an attribute not defined for coupons or a value not
    of its type."""
    stored = coupon_attributes_checked(application, attributes)
    types = attribute_definitions(application, AttributeEntity.COUPON)
    for name, value in stored.items():
        if value is not None and types[name] == "number":
            coupons = having_number(coupons, "attributes", name, Decimal(value))
        elif value is not None and types[name] == "time":
            moment = datetime.fromisoformat(value)
            coupons = having_instant(coupons, "attributes", name, moment)
        else:
            coupons = having_included(coupons, "attributes", name, value)
    return coupons


# --------------------------------------------------------------------------------------------
# Changing and deleting

#: Each limit a change may set, with the counter the database keeps within it and what it counts.
_LIMITS: Final = (
    ("usage_limit", "usage_counter", "redemptions"),
    ("discount_limit", "discount_counter", "discounts given"),
    ("reservation_limit", "reservation_counter", "reservations"),
)

#: The fields ``coupon_update`` may change (``coupons_update``: all but the last three).
COUPON_UPDATABLE_FIELDS: Final = frozenset(
    {
        "usage_limit",
        "discount_limit",
        "reservation_limit",
        "start_date",
        "expiry_date",
        "attributes",
        "recipient_integration_id",
        "is_reservation_mandatory",
        "profile_redemption_limit",
    }
)


def coupon_update(*, coupon_id: int, campaign: Campaign, changes: Mapping[str, Any]) -> Coupon:
    """Write ``changes`` (model field → value, of ``COUPON_UPDATABLE_FIELDS``) to the
    campaign's coupon, and nothing else.

    The coupon's row is locked first, so no redemption or reservation counts in between: a
    limit (other than 0, no limit) is never set below what its counter has counted. Raises
    ``Coupon.DoesNotExist`` and ``CouponInvalid`` (nothing written).
    """
    _check_fields(changes, COUPON_UPDATABLE_FIELDS)
    with transaction.atomic():
        coupon = Coupon.objects.select_for_update().get(campaign=campaign, pk=coupon_id)
        if "attributes" in changes:
            attributes = coupon_attributes_checked(campaign.application, changes["attributes"])
            changes = {**changes, "attributes": attributes}
        for name, value in changes.items():
            setattr(coupon, name, value)
        for limit, counter, what in _LIMITS:
            used = getattr(coupon, counter)
            if limit in changes and 0 < getattr(coupon, limit) < used:
                raise CouponInvalid(limit, f"is 0 (no limit) or at least {used}, the {what} made")
        coupon_terms_check(
            usage_limit=coupon.usage_limit,
            discount_limit=coupon.discount_limit,
            reservation_limit=coupon.reservation_limit,
            profile_redemption_limit=coupon.profile_redemption_limit,
            start_date=coupon.start_date,
            expiry_date=coupon.expiry_date,
            recipient_integration_id=coupon.recipient_integration_id,
        )
        if changes:
            coupon.save(update_fields=list(changes))
        return coupon


def coupons_update(
    *, coupons: QuerySet[Coupon], campaign: Campaign, changes: Mapping[str, Any]
) -> int:
    """Write ``changes`` (model field → value: limits, dates, attributes) to every coupon of
    ``coupons`` (the campaign's: all of them, or a batch), all or none; how many were changed.

    The terms are checked as ``coupon_update`` checks one coupon's; the dates are written as
    given, so start and expiry are checked together. The coupons are locked in id order (the
    order sessions lock coupons in, so the two cannot deadlock), then changed by one
    ``UPDATE``: a limit below what a coupon's counter has counted makes the database refuse
    the whole statement, and ``CouponInvalid`` says what the limit must be at least.
    """
    _check_fields(changes, COUPON_UPDATABLE_FIELDS - _PER_COUPON_FIELDS)
    coupons = coupons.filter(campaign=campaign)
    if "attributes" in changes:
        attributes = coupon_attributes_checked(campaign.application, changes["attributes"])
        changes = {**changes, "attributes": attributes}
    discount = coupon_terms_check(
        usage_limit=changes.get("usage_limit", 0),
        discount_limit=changes.get("discount_limit", 0),
        reservation_limit=changes.get("reservation_limit", 0),
        start_date=changes.get("start_date"),
        expiry_date=changes.get("expiry_date"),
    )
    if "discount_limit" in changes:
        changes = {**changes, "discount_limit": discount}
    with transaction.atomic():
        _lock_in_id_order(coupons)
        if not changes:
            return coupons.count()
        try:
            with transaction.atomic():
                return coupons.update(**changes)
        except IntegrityError:
            for limit, counter, what in _LIMITS:
                value = changes.get(limit)
                if not value:
                    continue
                most = coupons.aggregate(most=Max(counter))["most"]
                if most is not None and most > value:
                    raise CouponInvalid(
                        limit,
                        f"is 0 (no limit) or at least {most}, the most {what} a coupon of these "
                        f"has made",
                    ) from None
            raise


#: Fields that only one coupon at a time may be given: a recipient, a mandatory reservation and
#: a per-customer limit describe a coupon handed to someone, not a batch.
_PER_COUPON_FIELDS: Final = frozenset(
    {"recipient_integration_id", "is_reservation_mandatory", "profile_redemption_limit"}
)


def coupon_delete(*, coupon_id: int, campaign: Campaign) -> None:
    """Delete the campaign's coupon, with its redemptions and reservations; raises
    ``Coupon.DoesNotExist`` when the campaign has no such coupon."""
    deleted = coupons_delete(coupons=Coupon.objects.filter(pk=coupon_id), campaign=campaign)
    if not deleted:
        raise Coupon.DoesNotExist


def coupons_delete(*, coupons: QuerySet[Coupon], campaign: Campaign) -> int:
    """Delete the campaign's coupons of ``coupons``, all or none; how many were deleted.

    A coupon goes with everything that counts for it alone: its redemptions, reservations and
    per-customer counts, so no counter is left counting what no longer exists. What its
    redemptions drew from campaign budgets stays drawn (the discounts were given). The coupons
    are locked in id order first, as sessions lock them: a session closing with one of them
    either redeems it before it goes, or finds it gone (``CouponNotFound``), as does any
    session that names it later.
    """
    coupons = coupons.filter(campaign=campaign)
    with transaction.atomic():
        if not _lock_in_id_order(coupons):
            return 0
        _, deleted = coupons.delete()
        return deleted.get(Coupon._meta.label, 0)


def _lock_in_id_order(coupons: QuerySet[Coupon]) -> int:
    """Lock the coupons' rows in ascending id order (``SELECT … ORDER BY id FOR UPDATE``,
    rows locked as they are read); how many there are."""
    ids = coupons.select_for_update().order_by("pk").values_list("pk", flat=True)
    return sum(1 for _ in ids.iterator(chunk_size=10_000))


def _check_fields(changes: Mapping[str, Any], allowed: Collection[str]) -> None:
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise CouponInvalid(unknown[0], "cannot be changed here")


# --------------------------------------------------------------------------------------------
# Reservations

MAX_RESERVATIONS_PER_REQUEST: Final = 1_000
"""The most customers one call reserves a coupon for, or cancels (Talon.One's ``maxItems``)."""


class CouponReservationLimitReached(Exception):
    """Reserving the coupon for these customers would pass its ``reservation_limit``."""

    def __init__(self, coupon: Coupon, added: int) -> None:
        super().__init__(
            f"the coupon {coupon.value!r} can be reserved {coupon.reservation_limit} times; "
            f"{added} more reservations would pass that"
        )
        self.coupon = coupon
        self.added = added


def coupon_reserve(
    *,
    application: Application,
    value: str,
    integration_ids: Sequence[str],
    now: datetime,
) -> Coupon:
    """Reserve the coupon ``value`` for each customer of ``integration_ids``, in one
    transaction; the coupon, with its counters as they now are.

    A customer the application does not know yet is created (as a session naming a new
    ``profileId`` creates it; ``last_activity`` is its creation, reserving does not move it
    for a known customer). A customer who already holds a reservation keeps it: reserving
    twice is reserving once. The reservations are counted in ``reservation_counter``, which
    never passes ``reservation_limit``: when the new ones would pass it, none is made, no
    customer is created, and ``CouponReservationLimitReached`` is raised.

    Talon.One's endpoint ignores the reservation limit (only its ``reserveCoupon`` effect
    honours it); here the limit holds for every reservation.

    Raises ``Coupon.DoesNotExist`` when the application has no coupon ``value`` and
    ``CouponInvalid`` for an integration id that is empty or too long, or too many of them.
    """
    ids = _integration_ids(integration_ids)
    coupon = _coupon_by_value(application=application, value=value)
    if not ids:
        return coupon
    with transaction.atomic():
        profile_ids = _profiles_get_or_create(application=application, integration_ids=ids, now=now)
        added = _reservations_insert(coupon=coupon, profile_ids=profile_ids, now=now)
        if added:
            counted = (
                Coupon.objects.filter(pk=coupon.pk)
                .filter(
                    Q(reservation_limit=0)
                    | Q(reservation_counter__lte=F("reservation_limit") - added)
                )
                .update(reservation_counter=F("reservation_counter") + added)
            )
            if not counted:
                raise CouponReservationLimitReached(coupon, added)
    coupon.refresh_from_db()
    return coupon


def coupon_unreserve(
    *, application: Application, value: str, integration_ids: Sequence[str]
) -> int:
    """Cancel the reservations of the coupon ``value`` held by the customers of
    ``integration_ids``, in one transaction; how many there were. A customer without one (or
    unknown to the application) is passed over.

    Raises ``Coupon.DoesNotExist`` when the application has no coupon ``value`` and
    ``CouponInvalid`` as ``coupon_reserve`` does.
    """
    ids = _integration_ids(integration_ids)
    coupon = _coupon_by_value(application=application, value=value)
    if not ids:
        return 0
    with transaction.atomic():
        # Locked in profile order, as reserving inserts them, then deleted: what this call
        # locked, no other call deletes, so the count taken off is exactly what it removed.
        removed = list(
            CouponReservation.objects.select_for_update(of=("self",))
            .filter(
                coupon=coupon,
                profile__application=application,
                profile__integration_id__in=ids,
            )
            .order_by("profile_id")
            .values_list("pk", flat=True)
        )
        if not removed:
            return 0
        CouponReservation.objects.filter(pk__in=removed).delete()
        # A count a forgotten customer left behind stays at 0 rather than failing the call.
        Coupon.objects.filter(pk=coupon.pk).update(
            reservation_counter=Greatest(F("reservation_counter") - len(removed), 0)
        )
    return len(removed)


def coupon_reservations_list(*, application: Application, value: str) -> list[CustomerProfile]:
    """The customers holding a reservation of the coupon ``value``, the earliest reservation
    first. Raises ``Coupon.DoesNotExist`` when the application has no such coupon."""
    coupon = _coupon_by_value(application=application, value=value)
    reservations = (
        CouponReservation.objects.filter(coupon=coupon)
        .select_related("profile")
        .order_by("created", "id")
    )
    return [reservation.profile for reservation in reservations]


def _coupon_by_value(*, application: Application, value: str) -> Coupon:
    coupon = coupons_find(application=application, values=[value]).get(value)
    if coupon is None:
        raise Coupon.DoesNotExist(f"the application has no coupon {value!r}")
    return coupon


def _integration_ids(integration_ids: Sequence[str]) -> list[str]:
    """The distinct integration ids, sorted (the order rows are created and locked in)."""
    if len(integration_ids) > MAX_RESERVATIONS_PER_REQUEST:
        raise CouponInvalid(
            "integration_ids", f"has at most {MAX_RESERVATIONS_PER_REQUEST} integration ids"
        )
    for integration_id in integration_ids:
        if not 0 < len(integration_id) <= INTEGRATION_ID_MAX_LENGTH:
            raise CouponInvalid(
                "integration_ids",
                f"holds integration ids of 1 to {INTEGRATION_ID_MAX_LENGTH} characters",
            )
    return sorted(set(integration_ids))


def _profiles_get_or_create(
    *, application: Application, integration_ids: Sequence[str], now: datetime
) -> list[int]:
    """The ids of the application's profiles ``integration_ids``, those missing created, in
    ascending order. Created in integration id order, so that two calls creating the same
    profiles wait for each other rather than deadlock; one created meanwhile by another
    request is taken as it is."""
    scoped = CustomerProfile.objects.filter(
        application=application, integration_id__in=integration_ids
    )
    existing = set(scoped.values_list("integration_id", flat=True))
    missing = [id_ for id_ in integration_ids if id_ not in existing]
    if missing:
        CustomerProfile.objects.bulk_create(
            [
                CustomerProfile(application=application, integration_id=id_, last_activity=now)
                for id_ in missing
            ],
            ignore_conflicts=True,
        )
    return sorted(scoped.values_list("pk", flat=True))


def _reservations_insert(*, coupon: Coupon, profile_ids: Sequence[int], now: datetime) -> int:
    """Insert the coupon's reservations for ``profile_ids`` that do not exist yet, in profile
    order; how many were inserted (``RETURNING``: the ORM's ``bulk_create`` does not say which
    rows a conflict skipped). A reservation being inserted by a concurrent call makes this one
    wait for it, then skip it once committed."""
    meta = CouponReservation._meta
    quote = connection.ops.quote_name
    coupon_column = quote(meta.get_field("coupon").column)
    profile_column = quote(meta.get_field("profile").column)
    created = meta.get_field("created")
    if not profile_ids:
        return 0
    ordered = sorted(profile_ids)
    # A multi-row VALUES list, which PostgreSQL and SQLite both take with ON CONFLICT and
    # RETURNING; rows in profile order, the order their locks are taken in.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} "  # noqa: S608 (names only)
        f"({coupon_column}, {profile_column}, {quote(created.column)}) VALUES "
        + ", ".join(["(%s, %s, %s)"] * len(ordered))
        + f" ON CONFLICT ({coupon_column}, {profile_column}) DO NOTHING "
        f"RETURNING {profile_column}"
    )
    moment = created.get_db_prep_save(now, connection)
    params: list[Any] = [value for pk in ordered for value in (coupon.pk, pk, moment)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return len(cursor.fetchall())


def coupon_discount_give_back(
    *, session: CustomerSession, campaign_id: int, amount: Decimal
) -> None:
    """Give back to the coupon the session used in the campaign ``amount`` of what its
    discounts drew of the coupon's discount limit (a partial return took that much discount
    back), never more than the session drew. The redemption stays: the coupon was used."""
    if amount <= ZERO:
        return
    with transaction.atomic():
        redemptions = (
            CouponRedemption.objects.select_for_update()
            .filter(
                session=session,
                rolled_back_at__isnull=True,
                coupon__campaign_id=campaign_id,
                discount__gt=0,
            )
            .order_by("coupon_id")
        )
        for redemption in redemptions:
            back = min(amount, redemption.discount)
            Coupon.objects.filter(pk=redemption.coupon_id).update(
                discount_counter=Greatest(F("discount_counter") - back, Value(ZERO))
            )
            redemption.discount -= back
            redemption.save(update_fields=["discount"])
