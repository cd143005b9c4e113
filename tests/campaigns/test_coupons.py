"""Coupons: codes compared as the application says, the reasons a coupon is refused, and
counters that stay right when many sessions redeem and give back at once.

The concurrency tests run real transactions on separate PostgreSQL connections (one per
thread); SQLite runs one write at a time, so they are skipped there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.test import Client
from django.urls import reverse

from campaigns.models import Coupon, CouponRedemption, CustomerSession
from campaigns.services.coupons import (
    CouponExists,
    CouponInvalid,
    coupon_code_normalised,
    coupon_create,
    coupon_redeem,
    coupon_redemptions_roll_back,
    coupon_rejection,
    coupons_find,
)
from rules.effects import CouponRejectionReason as Reason
from tests.concurrency import all_at_once, race
from tests.factories import (
    ApplicationFactory,
    CampaignFactory,
    CouponFactory,
    CustomerSessionFactory,
    UserFactory,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def refused(write: Callable[[], Any]) -> bool:
    """Whether the database refuses what ``write`` writes (inside a savepoint)."""
    try:
        with transaction.atomic():
            write()
    except IntegrityError:
        return True
    return False


def live(coupon: Coupon) -> int:
    return CouponRedemption.objects.filter(coupon=coupon, rolled_back_at__isnull=True).count()


def counter(coupon: Coupon) -> int:
    return Coupon.objects.values_list("usage_counter", flat=True).get(pk=coupon.pk)


def close(session: CustomerSession, coupon: Coupon, *, now: datetime = NOW) -> bool:
    """What closing a session does with a coupon: lock the session, redeem."""
    with transaction.atomic():
        locked = CustomerSession.objects.select_for_update().get(pk=session.pk)
        return coupon_redeem(coupon=coupon, session=locked, profile=locked.profile, now=now)


def cancel(session: CustomerSession, *, now: datetime = NOW) -> list[Coupon]:
    """What cancelling a session does with its coupons: lock the session, give them back."""
    with transaction.atomic():
        locked = CustomerSession.objects.select_for_update().get(pk=session.pk)
        return coupon_redemptions_roll_back(session=locked, now=now)


# ---------------------------------------------------------------------------------------------
# The database refuses counters that break their limits


@pytest.mark.django_db
class TestConstraints:
    def test_a_usage_counter_cannot_pass_its_limit(self) -> None:
        coupon = CouponFactory(usage_limit=3, usage_counter=3)

        assert refused(
            lambda: Coupon.objects.filter(pk=coupon.pk).update(usage_counter=F("usage_counter") + 1)
        )
        assert counter(coupon) == 3

    def test_a_limit_cannot_drop_below_the_uses_already_counted(self) -> None:
        coupon = CouponFactory(usage_limit=3, usage_counter=3)

        assert refused(lambda: Coupon.objects.filter(pk=coupon.pk).update(usage_limit=2))
        assert not refused(lambda: Coupon.objects.filter(pk=coupon.pk).update(usage_limit=0))

    def test_an_unlimited_coupon_counts_as_far_as_it_is_used(self) -> None:
        coupon = CouponFactory(usage_limit=0)

        assert not refused(
            lambda: Coupon.objects.filter(pk=coupon.pk).update(usage_counter=999_999)
        )

    @pytest.mark.parametrize("field", ["usage_counter", "discount_counter", "discount_limit"])
    def test_no_counter_goes_below_zero(self, field: str) -> None:
        coupon = CouponFactory(usage_limit=0)

        assert refused(lambda: Coupon.objects.filter(pk=coupon.pk).update(**{field: F(field) - 1}))

    def test_a_discount_counter_cannot_pass_its_limit(self) -> None:
        coupon = CouponFactory(discount_limit=Decimal("50.00"), discount_counter=Decimal("49.99"))

        assert refused(
            lambda: Coupon.objects.filter(pk=coupon.pk).update(
                discount_counter=F("discount_counter") + Decimal("0.02")
            )
        )
        assert not refused(
            lambda: Coupon.objects.filter(pk=coupon.pk).update(
                discount_counter=F("discount_counter") + Decimal("0.01")
            )
        )

    def test_a_coupon_without_discount_limit_gives_any_amount(self) -> None:
        coupon = CouponFactory(discount_limit=Decimal(0))

        assert not refused(
            lambda: Coupon.objects.filter(pk=coupon.pk).update(discount_counter=Decimal("1e9"))
        )

    def test_a_code_is_not_empty(self) -> None:
        assert refused(lambda: CouponFactory(value=""))

    def test_a_code_is_unique_in_its_application_only(self) -> None:
        coupon = CouponFactory(value="SUMMER10")

        assert refused(
            lambda: CouponFactory(
                campaign=CampaignFactory(application=coupon.application), value="SUMMER10"
            )
        )
        assert not refused(lambda: CouponFactory(value="SUMMER10"))

    def test_a_coupon_expires_after_it_starts(self) -> None:
        assert refused(lambda: CouponFactory(start_date=NOW, expiry_date=NOW))
        assert not refused(lambda: CouponFactory(start_date=NOW, expiry_date=NOW + HOUR))

    def test_a_session_has_one_live_redemption_of_a_coupon(self) -> None:
        coupon = CouponFactory(usage_limit=0)
        session = CustomerSessionFactory(application=coupon.application)
        CouponRedemption.objects.create(coupon=coupon, session=session, created=NOW)

        assert refused(
            lambda: CouponRedemption.objects.create(coupon=coupon, session=session, created=NOW)
        )
        CouponRedemption.objects.update(rolled_back_at=NOW)
        assert not refused(
            lambda: CouponRedemption.objects.create(coupon=coupon, session=session, created=NOW)
        )


# ---------------------------------------------------------------------------------------------
# Codes compared as the application compares them


SENSITIVITIES = [
    # setting, code as created, stored as, codes that find it, codes that do not
    ("insensitive-uppercase", "Summer10", "SUMMER10", ["summer10", "SUMMER10", "sUmMeR10"], []),
    ("insensitive-lowercase", "Summer10", "summer10", ["summer10", "SUMMER10", "sUmMeR10"], []),
    ("sensitive", "Summer10", "Summer10", ["Summer10"], ["summer10", "SUMMER10"]),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sensitivity", "created", "stored", "finding", "missing"),
    SENSITIVITIES,
    ids=[row[0] for row in SENSITIVITIES],
)
def test_codes_are_stored_and_found_as_the_application_compares_them(
    sensitivity: str, created: str, stored: str, finding: list[str], missing: list[str]
) -> None:
    campaign = CampaignFactory(application=ApplicationFactory(case_sensitivity=sensitivity))
    application = campaign.application

    coupon = coupon_create(campaign=campaign, value=created)
    found = coupons_find(application=application, values=[*finding, *missing])

    assert coupon.value == stored
    assert Coupon.objects.get().value == stored
    assert coupon_code_normalised(application=application, value=created) == stored
    assert {code: c.pk for code, c in found.items()} == dict.fromkeys(finding, coupon.pk)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sensitivity", "other_case_is_a_new_code"),
    [("insensitive-uppercase", False), ("insensitive-lowercase", False), ("sensitive", True)],
)
def test_a_code_differing_only_in_case_is_new_only_where_case_counts(
    sensitivity: str, other_case_is_a_new_code: bool
) -> None:
    campaign = CampaignFactory(application=ApplicationFactory(case_sensitivity=sensitivity))
    coupon_create(campaign=campaign, value="Summer10")

    if other_case_is_a_new_code:
        coupon_create(campaign=campaign, value="SUMMER10")
        assert Coupon.objects.count() == 2
    else:
        with pytest.raises(CouponExists, match="already exists"):
            coupon_create(campaign=campaign, value="SUMMER10")
        assert Coupon.objects.count() == 1


@pytest.mark.django_db
def test_the_same_code_can_exist_in_two_applications() -> None:
    coupon_create(campaign=CampaignFactory(), value="SUMMER10")
    coupon_create(campaign=CampaignFactory(), value="SUMMER10")

    assert Coupon.objects.count() == 2


@pytest.mark.django_db
def test_finding_coupons_is_one_query_with_their_campaigns(
    django_assert_num_queries: Any,
) -> None:
    campaign = CampaignFactory(
        application=ApplicationFactory(case_sensitivity="insensitive-uppercase"), name="Summer"
    )
    first = CouponFactory(campaign=campaign, value="FIRST")
    second = CouponFactory(campaign=campaign, value="SECOND")
    CouponFactory(value="THIRD")  # another application's

    with django_assert_num_queries(1):
        found = coupons_find(
            application=campaign.application, values=["first", "Second", "third", "nope", ""]
        )
        names = {code: coupon.campaign.name for code, coupon in found.items()}

    assert {code: coupon.pk for code, coupon in found.items()} == {
        "first": first.pk,
        "Second": second.pk,
    }
    assert names == {"first": "Summer", "Second": "Summer"}


@pytest.mark.django_db
def test_finding_no_codes_asks_nothing(django_assert_num_queries: Any) -> None:
    application = ApplicationFactory()

    with django_assert_num_queries(0):
        assert coupons_find(application=application, values=[]) == {}
        assert coupons_find(application=application, values=["", "x" * 101]) == {}


# ---------------------------------------------------------------------------------------------
# Why a coupon is refused


def a_coupon(**fields: Any) -> Coupon:
    """An unsaved coupon of campaign 1 (rejection reads no database)."""
    return Coupon(campaign_id=1, value="SUMMER10", **{"usage_limit": 1, **fields})


REJECTIONS = [
    ("unknown code", None, {}, Reason.COUPON_NOT_FOUND),
    ("usable", a_coupon(), {}, None),
    (
        "campaign not running",
        a_coupon(),
        {"running_campaign_ids": {2}},
        Reason.COUPON_PART_OF_NOT_RUNNING_CAMPAIGN,
    ),
    (
        "starts later",
        a_coupon(start_date=NOW + timedelta(seconds=1)),
        {},
        Reason.COUPON_START_DATE_IN_FUTURE,
    ),
    ("starts now", a_coupon(start_date=NOW), {}, None),
    ("expires now", a_coupon(expiry_date=NOW), {}, Reason.COUPON_EXPIRED),
    ("expired", a_coupon(expiry_date=NOW - HOUR), {}, Reason.COUPON_EXPIRED),
    ("expires later", a_coupon(expiry_date=NOW + timedelta(seconds=1)), {}, None),
    (
        "someone else's",
        a_coupon(recipient_integration_id="alice"),
        {"profile_integration_id": "bob"},
        Reason.COUPON_RECIPIENT_DOES_NOT_MATCH,
    ),
    (
        "a recipient's, in an anonymous session",
        a_coupon(recipient_integration_id="alice"),
        {"profile_integration_id": None},
        Reason.COUPON_RECIPIENT_DOES_NOT_MATCH,
    ),
    (
        "the recipient's",
        a_coupon(recipient_integration_id="alice"),
        {"profile_integration_id": "alice"},
        None,
    ),
    (
        "used up",
        a_coupon(usage_limit=5, usage_counter=5),
        {},
        Reason.COUPON_LIMIT_REACHED,
    ),
    ("one use left", a_coupon(usage_limit=5, usage_counter=4), {}, None),
    ("unlimited", a_coupon(usage_limit=0, usage_counter=10_000), {}, None),
    # When several reasons hold, the first in the documented order wins.
    (
        "not running and expired",
        a_coupon(expiry_date=NOW - HOUR),
        {"running_campaign_ids": set()},
        Reason.COUPON_PART_OF_NOT_RUNNING_CAMPAIGN,
    ),
    (
        "expired and used up",
        a_coupon(expiry_date=NOW - HOUR, usage_counter=1),
        {},
        Reason.COUPON_EXPIRED,
    ),
    (
        "not started and someone else's",
        a_coupon(start_date=NOW + HOUR, recipient_integration_id="alice"),
        {},
        Reason.COUPON_START_DATE_IN_FUTURE,
    ),
    (
        "someone else's and used up",
        a_coupon(recipient_integration_id="alice", usage_counter=1),
        {},
        Reason.COUPON_RECIPIENT_DOES_NOT_MATCH,
    ),
]


@pytest.mark.parametrize(
    ("coupon", "context", "reason"),
    [row[1:] for row in REJECTIONS],
    ids=[row[0] for row in REJECTIONS],
)
def test_a_coupon_is_refused_for_the_first_reason_that_holds(
    coupon: Coupon | None, context: dict[str, Any], reason: Reason | None
) -> None:
    arguments = {"now": NOW, "profile_integration_id": "bob", "running_campaign_ids": {1}}

    assert coupon_rejection(coupon, **{**arguments, **context}) == reason


# ---------------------------------------------------------------------------------------------
# Redeeming and giving back


@pytest.fixture
def coupon() -> Coupon:
    return CouponFactory(usage_limit=2)


def a_session(coupon: Coupon, **fields: Any) -> CustomerSession:
    return CustomerSessionFactory(application=coupon.application, **fields)


@pytest.mark.django_db
class TestRedeem:
    def test_redeeming_counts_a_use_and_records_who_used_it(self, coupon: Coupon) -> None:
        session = a_session(coupon)

        assert close(session, coupon) is True

        assert counter(coupon) == 1
        redemption = CouponRedemption.objects.get()
        assert (redemption.coupon, redemption.session, redemption.profile) == (
            coupon,
            session,
            session.profile,
        )
        assert (redemption.created, redemption.rolled_back_at) == (NOW, None)

    def test_an_anonymous_session_redeems_too(self, coupon: Coupon) -> None:
        session = a_session(coupon, profile=None)

        assert close(session, coupon) is True
        assert CouponRedemption.objects.get().profile is None

    def test_a_used_up_coupon_is_refused_and_nothing_is_written(self, coupon: Coupon) -> None:
        first, second, third = (a_session(coupon) for _ in range(3))
        close(first, coupon)
        close(second, coupon)

        assert close(third, coupon) is False

        assert counter(coupon) == 2
        assert not CouponRedemption.objects.filter(session=third).exists()

    def test_a_retried_close_redeems_once(self, coupon: Coupon) -> None:
        session = a_session(coupon)

        assert [close(session, coupon) for _ in range(3)] == [True, True, True]

        assert counter(coupon) == 1
        assert live(coupon) == 1

    def test_a_retried_close_of_the_last_use_is_still_accepted(self, coupon: Coupon) -> None:
        sessions = [a_session(coupon) for _ in range(2)]
        for session in sessions:
            close(session, coupon)

        assert close(sessions[1], coupon) is True
        assert counter(coupon) == 2

    def test_an_unlimited_coupon_is_never_used_up(self) -> None:
        coupon = CouponFactory(usage_limit=0)

        assert all(close(a_session(coupon), coupon) for _ in range(5))
        assert counter(coupon) == 5

    def test_a_coupon_of_another_application_is_not_redeemed(self, coupon: Coupon) -> None:
        stranger = CustomerSessionFactory()

        with pytest.raises(ValueError, match="different applications"):
            coupon_redeem(coupon=coupon, session=stranger, profile=None, now=NOW)
        assert counter(coupon) == 0

    def test_a_reopened_and_closed_again_session_redeems_again(self, coupon: Coupon) -> None:
        session = a_session(coupon)
        close(session, coupon)
        cancel(session, now=NOW + HOUR)

        assert close(session, coupon, now=NOW + 2 * HOUR) is True

        assert counter(coupon) == 1
        assert CouponRedemption.objects.filter(session=session).count() == 2
        assert live(coupon) == 1


@pytest.mark.django_db
class TestRollBack:
    def test_cancelling_gives_the_use_back(self, coupon: Coupon) -> None:
        session = a_session(coupon)
        close(session, coupon)

        given_back = cancel(session, now=NOW + HOUR)

        assert [(c.pk, c.usage_counter) for c in given_back] == [(coupon.pk, 0)]
        assert counter(coupon) == 0
        assert CouponRedemption.objects.get().rolled_back_at == NOW + HOUR

    def test_cancelling_twice_gives_back_once(self, coupon: Coupon) -> None:
        sessions = [a_session(coupon) for _ in range(2)]
        for session in sessions:
            close(session, coupon)

        first = cancel(sessions[0], now=NOW + HOUR)
        second = cancel(sessions[0], now=NOW + 2 * HOUR)

        assert [c.pk for c in first] == [coupon.pk]
        assert second == []
        assert counter(coupon) == 1
        assert CouponRedemption.objects.get(session=sessions[0]).rolled_back_at == NOW + HOUR

    def test_a_freed_use_can_be_redeemed_by_another_session(self, coupon: Coupon) -> None:
        first, second, third = (a_session(coupon) for _ in range(3))
        close(first, coupon)
        close(second, coupon)
        cancel(first, now=NOW + HOUR)

        assert close(third, coupon, now=NOW + HOUR) is True
        assert counter(coupon) == 2

    def test_cancelling_gives_back_every_coupon_of_the_session_and_no_other(self) -> None:
        campaign = CampaignFactory()
        coupons = [CouponFactory(campaign=campaign, usage_limit=0) for _ in range(3)]
        session = CustomerSessionFactory(application=campaign.application)
        other = CustomerSessionFactory(application=campaign.application)
        for coupon in reversed(coupons[:2]):
            close(session, coupon)
        close(other, coupons[0])
        close(other, coupons[2])

        given_back = cancel(session, now=NOW + HOUR)

        assert [c.pk for c in given_back] == [coupons[0].pk, coupons[1].pk]  # in id order
        assert [counter(c) for c in coupons] == [1, 0, 1]
        assert CouponRedemption.objects.filter(session=other, rolled_back_at=None).count() == 2

    def test_a_session_without_coupons_gives_nothing_back(self, coupon: Coupon) -> None:
        assert cancel(a_session(coupon)) == []

    def test_a_counter_set_to_zero_by_hand_stays_at_zero(self, coupon: Coupon) -> None:
        session = a_session(coupon)
        close(session, coupon)
        Coupon.objects.update(usage_counter=0)

        assert [c.usage_counter for c in cancel(session, now=NOW + HOUR)] == [0]
        assert counter(coupon) == 0
        assert live(coupon) == 0


@pytest.mark.django_db
class TestCreate:
    def test_a_coupon_belongs_to_its_campaigns_application(self) -> None:
        campaign = CampaignFactory()

        coupon = coupon_create(
            campaign=campaign,
            value="GIFT-100",
            usage_limit=0,
            discount_limit=Decimal("100.00"),
            reservation_limit=3,
            start_date=NOW,
            expiry_date=NOW + HOUR,
            recipient_integration_id="alice",
            attributes={"channel": "mail"},
            batch_id="batch-1",
        )

        coupon.refresh_from_db()
        assert (coupon.application, coupon.campaign, coupon.value) == (
            campaign.application,
            campaign,
            "GIFT-100",
        )
        assert (coupon.usage_limit, coupon.usage_counter) == (0, 0)
        assert (coupon.discount_limit, coupon.discount_counter) == (Decimal(100), Decimal(0))
        assert (coupon.start_date, coupon.expiry_date) == (NOW, NOW + HOUR)
        assert (coupon.recipient_integration_id, coupon.attributes, coupon.batch_id) == (
            "alice",
            {"channel": "mail"},
            "batch-1",
        )

    def test_the_defaults_are_a_single_use_coupon(self) -> None:
        coupon = coupon_create(campaign=CampaignFactory(), value="ONCE")

        assert (coupon.usage_limit, coupon.discount_limit, coupon.reservation_limit) == (
            1,
            Decimal(0),
            0,
        )
        assert (coupon.start_date, coupon.expiry_date, coupon.attributes) == (None, None, {})

    @pytest.mark.parametrize(
        ("arguments", "field"),
        [
            ({"value": ""}, "value"),
            ({"value": "x" * 101}, "value"),
            ({"usage_limit": -1}, "usage_limit"),
            ({"usage_limit": 1_000_000}, "usage_limit"),
            ({"reservation_limit": 1_000_000}, "reservation_limit"),
            ({"discount_limit": Decimal("-0.01")}, "discount_limit"),
            ({"discount_limit": Decimal("1e14")}, "discount_limit"),
            ({"discount_limit": Decimal("NaN")}, "discount_limit"),
            ({"start_date": NOW, "expiry_date": NOW}, "expiry_date"),
            ({"recipient_integration_id": "x" * 1001}, "recipient_integration_id"),
        ],
    )
    def test_out_of_range_arguments_are_refused(
        self, arguments: dict[str, Any], field: str
    ) -> None:
        with pytest.raises(CouponInvalid) as refusal:
            coupon_create(campaign=CampaignFactory(), **{"value": "OK", **arguments})

        assert refusal.value.field == field
        assert not Coupon.objects.exists()


# ---------------------------------------------------------------------------------------------
# Under real concurrency (PostgreSQL, one connection per thread)


@race
@pytest.mark.django_db(transaction=True)
def test_a_hundred_sessions_closing_at_once_redeem_exactly_the_limit() -> None:
    coupon = CouponFactory(usage_limit=10)
    sessions = [a_session(coupon) for _ in range(100)]

    outcomes = all_at_once(lambda index: close(sessions[index], coupon), 100)

    assert sorted(outcomes) == [False] * 90 + [True] * 10
    assert counter(coupon) == 10
    assert live(coupon) == 10
    coupon.refresh_from_db()
    assert (
        coupon_rejection(
            coupon, now=NOW, profile_integration_id=None, running_campaign_ids={coupon.campaign_id}
        )
        == Reason.COUPON_LIMIT_REACHED
    )


@race
@pytest.mark.django_db(transaction=True)
def test_the_same_close_sent_many_times_at_once_redeems_once() -> None:
    coupon = CouponFactory(usage_limit=10)
    session = a_session(coupon)

    outcomes = all_at_once(lambda _: close(session, coupon), 20)

    assert outcomes == [True] * 20
    assert counter(coupon) == 1
    assert live(coupon) == 1


@race
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_redemption_without_the_session_lock_still_counts_once() -> None:
    """The unique index is the net under the session lock: a second redemption of the same
    coupon by the same session, started before the first committed, undoes its count."""
    coupon = CouponFactory(usage_limit=10)
    session = a_session(coupon)
    first_counted, second_started = threading.Event(), threading.Event()
    outcomes: dict[str, bool] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                outcomes["first"] = coupon_redeem(
                    coupon=coupon, session=session, profile=None, now=NOW
                )
                first_counted.set()
                second_started.wait()
                time.sleep(0.3)  # the second is now waiting for this transaction
        finally:
            connection.close()

    def second() -> None:
        try:
            first_counted.wait()
            second_started.set()
            with transaction.atomic():
                outcomes["second"] = coupon_redeem(
                    coupon=coupon, session=session, profile=None, now=NOW
                )
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes == {"first": True, "second": True}
    assert counter(coupon) == 1
    assert live(coupon) == 1


@race
@pytest.mark.django_db(transaction=True)
def test_two_roll_backs_of_one_session_at_once_give_back_once() -> None:
    """Without the session lock: the second roll-back waits for the first to commit, then finds
    nothing live."""
    coupon = CouponFactory(usage_limit=10, usage_counter=3)
    session = a_session(coupon)
    CouponRedemption.objects.create(coupon=coupon, session=session, created=NOW)
    first_marked, second_started = threading.Event(), threading.Event()
    given_back: dict[str, list[int]] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                coupons = coupon_redemptions_roll_back(session=session, now=NOW + HOUR)
                given_back["first"] = [c.pk for c in coupons]
                first_marked.set()
                second_started.wait()
                time.sleep(0.3)  # the second is now waiting for this transaction
        finally:
            connection.close()

    def second() -> None:
        try:
            first_marked.wait()
            second_started.set()
            with transaction.atomic():
                coupons = coupon_redemptions_roll_back(session=session, now=NOW + 2 * HOUR)
                given_back["second"] = [c.pk for c in coupons]
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert given_back == {"first": [coupon.pk], "second": []}
    assert counter(coupon) == 2
    assert CouponRedemption.objects.get().rolled_back_at == NOW + HOUR


@race
@pytest.mark.django_db(transaction=True)
def test_many_cancels_of_one_session_at_once_give_back_once() -> None:
    coupon = CouponFactory(usage_limit=10)
    session = a_session(coupon)
    close(session, coupon)

    def roll_back(_: int) -> int:
        with transaction.atomic():
            return len(coupon_redemptions_roll_back(session=session, now=NOW + HOUR))

    assert sorted(all_at_once(roll_back, 20)) == [0] * 19 + [1]
    assert counter(coupon) == 0
    assert live(coupon) == 0


@race
@pytest.mark.django_db(transaction=True)
def test_sessions_sharing_coupons_close_and_cancel_at_once_without_deadlock() -> None:
    """Each session locks itself, then its coupons in id order; PostgreSQL would abort one of
    two transactions waiting for each other (a deadlock) and the test would fail."""
    campaign = CampaignFactory()
    coupons = sorted(
        (CouponFactory(campaign=campaign, usage_limit=0) for _ in range(3)), key=lambda c: c.pk
    )
    sessions = [CustomerSessionFactory(application=campaign.application) for _ in range(30)]

    def close_then_cancel(index: int) -> int:
        session = sessions[index]
        with transaction.atomic():
            locked = CustomerSession.objects.select_for_update().get(pk=session.pk)
            for coupon in coupons:  # ascending id: the lock order
                coupon_redeem(coupon=coupon, session=locked, profile=None, now=NOW)
        return len(cancel(session, now=NOW + HOUR)) if index % 2 else 0

    given_back = all_at_once(close_then_cancel, len(sessions))

    assert sum(given_back) == 15 * 3
    assert [counter(c) for c in coupons] == [15, 15, 15]
    assert CouponRedemption.objects.filter(rolled_back_at=None).count() == 15 * 3


# ---------------------------------------------------------------------------------------------
# The admin


@pytest.fixture
def operator(client: Client) -> Client:
    user: User = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def admin_url(model: type[Any], page: str, *args: Any) -> str:
    return reverse(f"admin:campaigns_{model._meta.model_name}_{page}", args=args)


@pytest.mark.django_db
def test_every_coupon_admin_page_renders(operator: Client) -> None:
    coupon = CouponFactory(value="SUMMER10")
    close(a_session(coupon), coupon)
    redemption = CouponRedemption.objects.get()

    pages = [
        admin_url(Coupon, "changelist"),
        admin_url(Coupon, "add"),
        admin_url(Coupon, "change", coupon.pk),
        admin_url(CouponRedemption, "changelist"),
        admin_url(CouponRedemption, "change", redemption.pk),
    ]

    assert [operator.get(page).status_code for page in pages] == [200] * 5
    assert operator.get(admin_url(CouponRedemption, "add")).status_code == 403
    found = operator.get(admin_url(Coupon, "changelist"), {"q": "summer10"})
    assert [c.pk for c in found.context["cl"].result_list] == [coupon.pk]


def coupon_form(coupon: Coupon, **changes: Any) -> dict[str, Any]:
    data = {
        "usage_limit": coupon.usage_limit,
        "discount_limit": coupon.discount_limit,
        "reservation_limit": coupon.reservation_limit,
        "start_date_0": "",
        "start_date_1": "",
        "expiry_date_0": "",
        "expiry_date_1": "",
        "recipient_integration_id": coupon.recipient_integration_id,
        "attributes": "{}",
        "batch_id": coupon.batch_id,
    }
    return {**data, **changes}


@pytest.mark.django_db
def test_a_coupon_added_in_the_admin_gets_its_code_normalised(operator: Client) -> None:
    campaign = CampaignFactory(
        application=ApplicationFactory(case_sensitivity="insensitive-uppercase")
    )
    CouponFactory(campaign=campaign, value="TAKEN")
    form = coupon_form(Coupon(), usage_limit=5, campaign=campaign.pk)

    added = operator.post(admin_url(Coupon, "add"), {**form, "value": "summer10"})
    duplicate = operator.post(admin_url(Coupon, "add"), {**form, "value": "taken"})

    assert added.status_code == 302
    coupon = Coupon.objects.get(value="SUMMER10")
    assert (coupon.application, coupon.usage_limit) == (campaign.application, 5)
    assert duplicate.status_code == 200
    assert "already has the code TAKEN" in duplicate.content.decode()


@pytest.mark.django_db
def test_saving_a_coupon_in_the_admin_keeps_uses_counted_meanwhile(operator: Client) -> None:
    coupon = CouponFactory(usage_limit=5)
    operator.get(admin_url(Coupon, "change", coupon.pk))
    close(a_session(coupon), coupon)  # while the operator edits

    response = operator.post(
        admin_url(Coupon, "change", coupon.pk), coupon_form(coupon, usage_limit=7)
    )

    assert response.status_code == 302
    coupon.refresh_from_db()
    assert (coupon.usage_limit, coupon.usage_counter) == (7, 1)


@pytest.mark.django_db
def test_the_admin_refuses_a_limit_below_the_uses(operator: Client) -> None:
    coupon = CouponFactory(usage_limit=5, usage_counter=3)

    response = operator.post(
        admin_url(Coupon, "change", coupon.pk), coupon_form(coupon, usage_limit=2)
    )

    assert response.status_code == 200
    assert "used 3 times already" in response.content.decode()
    assert Coupon.objects.get().usage_limit == 5
