"""Coupon reservations and per-customer limits: what the database refuses, why a coupon is
refused to a customer, and per-customer counts that hold when one customer's sessions close at
once and come back exactly once when they are cancelled.

The concurrency tests run real transactions on separate PostgreSQL connections (one per
thread); SQLite runs one write at a time, so they are skipped there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from campaigns.models import (
    Coupon,
    CouponProfileCounter,
    CouponRedemption,
    CouponReservation,
    CustomerProfile,
    CustomerSession,
)
from campaigns.services.coupons import (
    CouponInvalid,
    CouponReservationLimitReached,
    coupon_create,
    coupon_redeem,
    coupon_redeem_explained,
    coupon_redemptions_roll_back,
    coupon_rejection,
    coupon_reservations_list,
    coupon_reserve,
    coupon_unreserve,
    coupons_profile_redemptions,
    coupons_reserved,
)
from rules.effects import CouponRejectionReason as Reason
from tests.concurrency import all_at_once, race
from tests.factories import (
    CampaignFactory,
    CouponFactory,
    CouponReservationFactory,
    CustomerProfileFactory,
    CustomerSessionFactory,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def refused(write: Callable[[], Any]) -> bool:
    """Whether the database refuses what ``write`` writes (inside a savepoint)."""
    try:
        with transaction.atomic():
            write()
    except IntegrityError:
        return True
    return False


def counts(coupon: Coupon, profile: CustomerProfile) -> tuple[int, int, int]:
    """The coupon's uses, the customer's count and the customer's live redemptions."""
    usage = Coupon.objects.values_list("usage_counter", flat=True).get(pk=coupon.pk)
    mine = (
        CouponProfileCounter.objects.filter(coupon=coupon, profile=profile)
        .values_list("counter", flat=True)
        .first()
    )
    live = CouponRedemption.objects.filter(
        coupon=coupon, profile=profile, rolled_back_at__isnull=True
    ).count()
    return usage, mine or 0, live


def a_session(coupon: Coupon, profile: CustomerProfile | None) -> CustomerSession:
    return CustomerSessionFactory(application=coupon.application, profile=profile)


def a_customer(coupon: Coupon, integration_id: str = "alice") -> CustomerProfile:
    return CustomerProfileFactory(application=coupon.application, integration_id=integration_id)


def close(session: CustomerSession, coupon: Coupon) -> Reason | None:
    """What closing a session does with a coupon: lock the session, redeem."""
    with transaction.atomic():
        locked = CustomerSession.objects.select_for_update().get(pk=session.pk)
        return coupon_redeem_explained(
            coupon=coupon, session=locked, profile=locked.profile, now=NOW
        )


def cancel(session: CustomerSession) -> list[Coupon]:
    """What cancelling a session does with its coupons: lock the session, give them back."""
    with transaction.atomic():
        locked = CustomerSession.objects.select_for_update().get(pk=session.pk)
        return coupon_redemptions_roll_back(session=locked, now=NOW)


# ---------------------------------------------------------------------------------------------
# The database refuses counts that break their limits


@pytest.mark.django_db
class TestConstraints:
    def test_a_reservation_counter_cannot_pass_its_limit(self) -> None:
        coupon = CouponFactory(reservation_limit=2, reservation_counter=2)

        assert refused(
            lambda: Coupon.objects.filter(pk=coupon.pk).update(
                reservation_counter=F("reservation_counter") + 1
            )
        )

    def test_an_unlimited_coupon_can_be_reserved_by_anyone(self) -> None:
        coupon = CouponFactory(reservation_limit=0, reservation_counter=500)

        assert not refused(
            lambda: Coupon.objects.filter(pk=coupon.pk).update(
                reservation_counter=F("reservation_counter") + 1
            )
        )

    def test_a_reservation_counter_cannot_go_below_zero(self) -> None:
        coupon = CouponFactory()

        assert refused(lambda: Coupon.objects.filter(pk=coupon.pk).update(reservation_counter=-1))

    def test_a_customer_reserves_a_coupon_once(self) -> None:
        reservation = CouponReservationFactory()

        assert refused(
            lambda: CouponReservation.objects.create(
                coupon=reservation.coupon, profile=reservation.profile
            )
        )

    def test_a_customers_count_cannot_go_below_zero(self) -> None:
        coupon = CouponFactory()
        profile = a_customer(coupon)

        assert refused(
            lambda: CouponProfileCounter.objects.create(coupon=coupon, profile=profile, counter=-1)
        )

    def test_a_customers_count_is_one_row_per_coupon(self) -> None:
        coupon = CouponFactory()
        profile = a_customer(coupon)
        CouponProfileCounter.objects.create(coupon=coupon, profile=profile, counter=1)

        assert refused(
            lambda: CouponProfileCounter.objects.create(coupon=coupon, profile=profile, counter=1)
        )

    def test_a_per_customer_limit_stays_in_range(self) -> None:
        coupon = CouponFactory()

        assert refused(
            lambda: Coupon.objects.filter(pk=coupon.pk).update(profile_redemption_limit=1_000_000)
        )


@pytest.mark.django_db
def test_a_coupon_is_created_with_its_reservation_and_per_customer_settings() -> None:
    campaign = CampaignFactory()

    coupon = coupon_create(
        campaign=campaign, value="VIP", is_reservation_mandatory=True, profile_redemption_limit=2
    )

    coupon.refresh_from_db()
    assert (coupon.is_reservation_mandatory, coupon.profile_redemption_limit) == (True, 2)
    with pytest.raises(CouponInvalid) as refusal:
        coupon_create(campaign=campaign, value="MANY", profile_redemption_limit=1_000_000)
    assert refusal.value.field == "profile_redemption_limit"


# ---------------------------------------------------------------------------------------------
# Why a coupon is refused to a customer (reads no database)


def a_coupon(**fields: Any) -> Coupon:
    return Coupon(campaign_id=1, value="VIP", **{"usage_limit": 0, **fields})


MANDATORY = {"is_reservation_mandatory": True}

REJECTIONS = [
    ("mandatory, not reserved", a_coupon(**MANDATORY), {}, Reason.COUPON_RESERVATION_REQUIRED),
    ("mandatory, reserved", a_coupon(**MANDATORY), {"reserved_by_profile": True}, None),
    (
        "mandatory, anonymous session",
        a_coupon(**MANDATORY),
        {"profile_integration_id": None},
        Reason.PROFILE_REQUIRED,
    ),
    ("soft reservation, not reserved", a_coupon(), {}, None),
    (
        "mandatory, the recipient's",
        a_coupon(recipient_integration_id="bob", **MANDATORY),
        {},
        None,
    ),
    (
        "mandatory, someone else's",
        a_coupon(recipient_integration_id="alice", **MANDATORY),
        {"reserved_by_profile": True},
        Reason.COUPON_RECIPIENT_DOES_NOT_MATCH,
    ),
    (
        "customer's limit reached",
        a_coupon(profile_redemption_limit=2),
        {"profile_redemptions": 2},
        Reason.PROFILE_LIMIT_REACHED,
    ),
    (
        "customer has a use left",
        a_coupon(profile_redemption_limit=2),
        {"profile_redemptions": 1},
        None,
    ),
    ("no per-customer limit", a_coupon(), {"profile_redemptions": 50}, None),
    (
        "per-customer limit, anonymous session",
        a_coupon(profile_redemption_limit=2),
        {"profile_integration_id": None},
        Reason.PROFILE_REQUIRED,
    ),
    # When several reasons hold, the first in the documented order wins.
    (
        "not reserved and used up",
        a_coupon(usage_limit=1, usage_counter=1, **MANDATORY),
        {},
        Reason.COUPON_RESERVATION_REQUIRED,
    ),
    (
        "used up for everyone and for the customer",
        a_coupon(usage_limit=1, usage_counter=1, profile_redemption_limit=1),
        {"profile_redemptions": 1},
        Reason.COUPON_LIMIT_REACHED,
    ),
    (
        "expired and not reserved",
        a_coupon(expiry_date=NOW, **MANDATORY),
        {},
        Reason.COUPON_EXPIRED,
    ),
]


@pytest.mark.parametrize(
    ("coupon", "context", "reason"),
    [row[1:] for row in REJECTIONS],
    ids=[row[0] for row in REJECTIONS],
)
def test_a_coupon_is_refused_to_a_customer_for_the_first_reason_that_holds(
    coupon: Coupon, context: dict[str, Any], reason: Reason | None
) -> None:
    arguments = {"now": NOW, "profile_integration_id": "bob", "running_campaign_ids": {1}}

    assert coupon_rejection(coupon, **{**arguments, **context}) == reason


@pytest.mark.django_db
def test_a_customers_reservations_and_counts_are_one_query_each(
    django_assert_num_queries: Any,
) -> None:
    mine = CouponFactory()
    theirs, unreserved = CouponFactory.create_batch(2, campaign=mine.campaign)
    profile = a_customer(mine)
    CouponReservation.objects.create(coupon=mine, profile=profile)
    CouponReservation.objects.create(coupon=theirs, profile=a_customer(mine, "bob"))
    CouponProfileCounter.objects.create(coupon=mine, profile=profile, counter=2)
    CouponProfileCounter.objects.create(coupon=unreserved, profile=profile, counter=0)

    with django_assert_num_queries(2):
        reserved = coupons_reserved(coupons=[mine, theirs, unreserved], profile=profile)
        redemptions = coupons_profile_redemptions(
            coupons=[mine, theirs, unreserved], profile=profile
        )

    assert reserved == {mine.pk}
    assert redemptions == {mine.pk: 2}
    with django_assert_num_queries(0):
        assert coupons_reserved(coupons=[mine], profile=None) == set()
        assert coupons_profile_redemptions(coupons=[], profile=profile) == {}


# ---------------------------------------------------------------------------------------------
# Reserving


@pytest.mark.django_db
class TestReserve:
    def test_reserving_creates_unknown_customers_and_counts_each_once(self) -> None:
        coupon = CouponFactory(reservation_limit=0)
        a_customer(coupon, "alice")

        reserved = coupon_reserve(
            application=coupon.application,
            value=coupon.value,
            integration_ids=["alice", "bob", "bob"],
            now=NOW,
        )

        assert reserved.reservation_counter == 2
        assert [
            p.integration_id
            for p in coupon_reservations_list(application=coupon.application, value=coupon.value)
        ] == ["alice", "bob"]
        assert CustomerProfile.objects.get(integration_id="bob").last_activity == NOW

    def test_reserving_twice_is_reserving_once(self) -> None:
        coupon = CouponFactory(reservation_limit=1)
        for _ in range(3):
            reserved = coupon_reserve(
                application=coupon.application,
                value=coupon.value,
                integration_ids=["alice"],
                now=NOW,
            )

        assert reserved.reservation_counter == 1
        assert CouponReservation.objects.filter(coupon=coupon).count() == 1

    def test_past_the_limit_nothing_is_reserved_and_no_customer_created(self) -> None:
        coupon = CouponFactory(reservation_limit=2)
        coupon_reserve(
            application=coupon.application, value=coupon.value, integration_ids=["a"], now=NOW
        )

        with pytest.raises(CouponReservationLimitReached):
            coupon_reserve(
                application=coupon.application,
                value=coupon.value,
                integration_ids=["a", "b", "c"],
                now=NOW,
            )

        coupon.refresh_from_db()
        assert coupon.reservation_counter == 1
        assert list(
            CustomerProfile.objects.filter(application=coupon.application).values_list(
                "integration_id", flat=True
            )
        ) == ["a"]

    def test_cancelling_frees_a_reservation_once(self) -> None:
        coupon = CouponFactory(reservation_limit=1)
        args = {"application": coupon.application, "value": coupon.value}
        coupon_reserve(**args, integration_ids=["alice"], now=NOW)

        assert coupon_unreserve(**args, integration_ids=["alice", "nobody"]) == 1
        assert coupon_unreserve(**args, integration_ids=["alice"]) == 0
        coupon.refresh_from_db()
        assert coupon.reservation_counter == 0
        assert coupon_reserve(**args, integration_ids=["bob"], now=NOW).reservation_counter == 1

    def test_another_applications_coupon_is_not_found(self) -> None:
        coupon = CouponFactory()
        other = CouponFactory()

        with pytest.raises(Coupon.DoesNotExist):
            coupon_reserve(
                application=other.application,
                value=coupon.value,
                integration_ids=["alice"],
                now=NOW,
            )
        assert not CouponReservation.objects.exists()


# ---------------------------------------------------------------------------------------------
# Redeeming with reservations and per-customer limits


@pytest.mark.django_db
class TestRedeem:
    def test_a_mandatory_reservation_is_checked_when_the_session_closes(self) -> None:
        coupon = CouponFactory(usage_limit=0, is_reservation_mandatory=True)
        alice = a_customer(coupon)

        assert close(a_session(coupon, alice), coupon) == Reason.COUPON_RESERVATION_REQUIRED
        assert counts(coupon, alice) == (0, 0, 0)
        CouponReservation.objects.create(coupon=coupon, profile=alice)
        assert close(a_session(coupon, alice), coupon) is None
        assert counts(coupon, alice) == (1, 1, 1)

    def test_an_anonymous_session_cannot_redeem_what_needs_a_customer(self) -> None:
        mandatory = CouponFactory(usage_limit=0, is_reservation_mandatory=True)
        limited = CouponFactory(
            application=mandatory.application, usage_limit=0, profile_redemption_limit=1
        )

        assert close(a_session(mandatory, None), mandatory) == Reason.PROFILE_REQUIRED
        assert close(a_session(limited, None), limited) == Reason.PROFILE_REQUIRED
        assert not CouponRedemption.objects.exists()

    def test_a_customer_redeems_up_to_their_limit_and_both_counts_hold(self) -> None:
        coupon = CouponFactory(usage_limit=10, profile_redemption_limit=2)
        alice, bob = a_customer(coupon, "alice"), a_customer(coupon, "bob")

        outcomes = [close(a_session(coupon, alice), coupon) for _ in range(3)]

        assert outcomes == [None, None, Reason.PROFILE_LIMIT_REACHED]
        assert counts(coupon, alice) == (2, 2, 2)  # the refused use is not counted anywhere
        assert close(a_session(coupon, bob), coupon) is None
        assert counts(coupon, bob) == (3, 1, 1)

    def test_a_used_up_coupon_counts_nothing_for_the_customer(self) -> None:
        coupon = CouponFactory(usage_limit=1, profile_redemption_limit=5)
        alice = a_customer(coupon)
        close(a_session(coupon, alice), coupon)

        assert close(a_session(coupon, alice), coupon) == Reason.COUPON_LIMIT_REACHED
        assert counts(coupon, alice) == (1, 1, 1)

    def test_a_retried_close_counts_the_customer_once(self) -> None:
        coupon = CouponFactory(usage_limit=0, profile_redemption_limit=1)
        alice = a_customer(coupon)
        session = a_session(coupon, alice)

        assert [close(session, coupon) for _ in range(3)] == [None, None, None]
        assert counts(coupon, alice) == (1, 1, 1)

    def test_cancelling_frees_the_customers_use_once(self) -> None:
        coupon = CouponFactory(usage_limit=0, profile_redemption_limit=1)
        alice = a_customer(coupon)
        first = a_session(coupon, alice)
        close(first, coupon)
        assert close(a_session(coupon, alice), coupon) == Reason.PROFILE_LIMIT_REACHED

        assert [c.pk for c in cancel(first)] == [coupon.pk]
        assert cancel(first) == []
        assert counts(coupon, alice) == (0, 0, 0)
        assert close(a_session(coupon, alice), coupon) is None
        assert counts(coupon, alice) == (1, 1, 1)

    def test_an_unlimited_coupon_still_counts_each_customers_uses(self) -> None:
        coupon = CouponFactory(usage_limit=0)
        alice = a_customer(coupon)
        for _ in range(3):
            assert coupon_redeem(
                coupon=coupon, session=a_session(coupon, alice), profile=alice, now=NOW
            )

        assert coupons_profile_redemptions(coupons=[coupon], profile=alice) == {coupon.pk: 3}
        # A limit set later applies to the uses already made.
        Coupon.objects.filter(pk=coupon.pk).update(profile_redemption_limit=3)
        coupon.refresh_from_db()
        assert close(a_session(coupon, alice), coupon) == Reason.PROFILE_LIMIT_REACHED

    def test_a_forgotten_customers_redemption_rolls_back(self) -> None:
        coupon = CouponFactory(usage_limit=0, profile_redemption_limit=1)
        alice = a_customer(coupon)
        session = a_session(coupon, alice)
        close(session, coupon)
        session.profile = None
        session.save(update_fields=["profile"])
        alice.delete()

        assert [c.usage_counter for c in cancel(session)] == [0]
        assert not CouponProfileCounter.objects.exists()


# ---------------------------------------------------------------------------------------------
# Under real concurrency (PostgreSQL, one connection per thread)


@race
@pytest.mark.django_db(transaction=True)
def test_twenty_sessions_of_one_customer_closing_at_once_redeem_exactly_their_limit() -> None:
    coupon = CouponFactory(usage_limit=0, profile_redemption_limit=3)
    alice = a_customer(coupon)
    sessions = [a_session(coupon, alice) for _ in range(20)]

    outcomes = all_at_once(lambda index: close(sessions[index], coupon), 20)

    assert sorted(outcomes, key=str) == [None] * 3 + [Reason.PROFILE_LIMIT_REACHED] * 17
    assert counts(coupon, alice) == (3, 3, 3)


@race
@pytest.mark.django_db(transaction=True)
def test_a_customers_limit_and_the_coupons_hold_together_under_concurrency() -> None:
    """Two customers race for a coupon of 4 uses, 3 each: every use counted on the coupon is
    counted on a customer, and neither count passes its limit."""
    coupon = CouponFactory(usage_limit=4, profile_redemption_limit=3)
    alice, bob = a_customer(coupon, "alice"), a_customer(coupon, "bob")
    sessions = [a_session(coupon, alice if index % 2 else bob) for index in range(20)]

    outcomes = all_at_once(lambda index: close(sessions[index], coupon), 20)

    assert outcomes.count(None) == 4
    usage, alices, _ = counts(coupon, alice)
    _, bobs, _ = counts(coupon, bob)
    assert usage == alices + bobs == 4
    assert max(alices, bobs) <= 3


@race
@pytest.mark.django_db(transaction=True)
def test_cancels_of_one_customers_sessions_at_once_free_each_use_once() -> None:
    coupon = CouponFactory(usage_limit=0, profile_redemption_limit=3)
    alice = a_customer(coupon)
    sessions = [a_session(coupon, alice) for _ in range(3)]
    for session in sessions:
        assert close(session, coupon) is None

    # Every session cancelled four times at once: each use comes back once.
    given_back = all_at_once(lambda index: len(cancel(sessions[index % 3])), 12)

    assert sorted(given_back) == [0] * 9 + [1] * 3
    assert counts(coupon, alice) == (0, 0, 0)


@race
@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_never_pass_the_limit() -> None:
    coupon = CouponFactory(reservation_limit=5)

    def reserve(index: int) -> bool:
        try:
            coupon_reserve(
                application=coupon.application,
                value=coupon.value,
                integration_ids=[f"customer-{index}", f"customer-{index + 1}"],
                now=NOW,
            )
        except CouponReservationLimitReached:
            return False
        return True

    outcomes = all_at_once(reserve, 20)

    coupon.refresh_from_db()
    reservations = CouponReservation.objects.filter(coupon=coupon).count()
    assert coupon.reservation_counter == reservations <= 5
    assert outcomes.count(True) >= 2  # at least two disjoint pairs fit


@race
@pytest.mark.django_db(transaction=True)
def test_a_reservation_cancelled_while_a_session_closes_is_not_redeemed_after() -> None:
    """Cancelling a hard reservation and closing a session that uses it, at once: either the
    close comes first and redeems, or the cancel does and the close is refused."""
    coupon = CouponFactory(usage_limit=0, is_reservation_mandatory=True)
    alice = a_customer(coupon)
    args = {"application": coupon.application, "value": coupon.value}
    coupon_reserve(**args, integration_ids=["alice"], now=NOW)
    session = a_session(coupon, alice)

    def race(index: int) -> Any:
        if index == 0:
            return close(session, coupon)
        return coupon_unreserve(**args, integration_ids=["alice"])

    outcomes = all_at_once(race, 2)

    assert 1 in outcomes  # the reservation was cancelled either way
    redeemed = CouponRedemption.objects.filter(coupon=coupon).exists()
    assert redeemed == (None in outcomes)
    assert not CouponReservation.objects.exists()


@pytest.mark.django_db
def test_the_database_refuses_a_customers_count_above_the_limit_it_grew_under() -> None:
    from django.db import IntegrityError, transaction

    from campaigns.models.coupons import CouponProfileCounter

    coupon = CouponFactory(usage_limit=0, profile_redemption_limit=2)
    alice = a_customer(coupon)
    CouponProfileCounter.objects.create(coupon=coupon, profile=alice, counter=2, cap=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        CouponProfileCounter.objects.filter(coupon=coupon).update(counter=3)
