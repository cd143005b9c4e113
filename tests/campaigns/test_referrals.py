"""Referrals: codes compared as the application says, the reasons a referral is refused, a
friend referred once per campaign, and a counter that stays right when many sessions redeem and
give back at once.

The concurrency tests run real transactions on separate PostgreSQL connections (one per
thread); SQLite runs one write at a time, so they are skipped there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.test import Client
from django.urls import reverse

from campaigns.models import (
    Campaign,
    CustomerSession,
    Referral,
    ReferralRedemption,
)
from campaigns.services import referrals as referral_services
from campaigns.services.referrals import (
    CODE_ALPHABET,
    CODE_LENGTH,
    ReferralExists,
    ReferralInvalid,
    referral_create,
    referral_friend_already_referred,
    referral_redeem_explained,
    referral_redemptions_roll_back,
    referral_rejection,
    referrals_find,
)
from rules.effects import ReferralRejectionReason as Reason
from tests.concurrency import all_at_once, race
from tests.factories import (
    ApplicationFactory,
    CampaignFactory,
    CustomerProfileFactory,
    CustomerSessionFactory,
    ReferralFactory,
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


def counter(referral: Referral) -> int:
    return Referral.objects.values_list("usage_counter", flat=True).get(pk=referral.pk)


def live(referral: Referral) -> int:
    return ReferralRedemption.objects.filter(referral=referral, rolled_back_at__isnull=True).count()


def a_friend_session(referral: Referral, integration_id: str | None = None) -> CustomerSession:
    """A session of a new customer (``integration_id``, or a fresh one) of the referral's
    application."""
    profile = CustomerProfileFactory(
        application=referral.application,
        **({"integration_id": integration_id} if integration_id else {}),
    )
    return CustomerSessionFactory(application=referral.application, profile=profile)


def close(session: CustomerSession, referral: Referral, *, now: datetime = NOW) -> Reason | None:
    """What closing a session does with its referral code: lock the session, redeem."""
    with transaction.atomic():
        locked = (
            CustomerSession.objects.select_related("profile")
            .select_for_update(of=("self",))
            .get(pk=session.pk)
        )
        return referral_redeem_explained(
            referral=referral, session=locked, profile=locked.profile, now=now
        )


def cancel(session: CustomerSession, *, now: datetime = NOW) -> list[Referral]:
    """What cancelling a session does with its referral: lock the session, give it back."""
    with transaction.atomic():
        locked = CustomerSession.objects.select_for_update().get(pk=session.pk)
        return referral_redemptions_roll_back(session=locked, now=now)


# ---------------------------------------------------------------------------------------------
# The database refuses what breaks the invariants


@pytest.mark.django_db
class TestConstraints:
    def test_a_usage_counter_cannot_pass_its_limit(self) -> None:
        referral = ReferralFactory(usage_limit=3, usage_counter=3)

        assert refused(
            lambda: Referral.objects.filter(pk=referral.pk).update(
                usage_counter=F("usage_counter") + 1
            )
        )
        assert counter(referral) == 3

    def test_an_unlimited_referral_counts_as_far_as_it_is_used(self) -> None:
        referral = ReferralFactory(usage_limit=0, usage_counter=10_000)

        Referral.objects.filter(pk=referral.pk).update(usage_counter=F("usage_counter") + 1)

        assert counter(referral) == 10_001

    def test_no_counter_goes_below_zero(self) -> None:
        referral = ReferralFactory()

        assert refused(lambda: Referral.objects.filter(pk=referral.pk).update(usage_counter=-1))

    def test_a_code_is_not_empty(self) -> None:
        assert refused(lambda: ReferralFactory(code=""))

    def test_a_code_is_unique_in_its_application_only(self) -> None:
        referral = ReferralFactory(code="FRIEND")

        assert refused(lambda: ReferralFactory(campaign=referral.campaign, code="FRIEND"))
        ReferralFactory(code="FRIEND")  # another application
        assert Referral.objects.count() == 2

    def test_a_referral_expires_after_it_starts(self) -> None:
        assert refused(lambda: ReferralFactory(start_date=NOW, expiry_date=NOW))

    def test_an_advocate_cannot_be_their_own_friend(self) -> None:
        assert refused(
            lambda: ReferralFactory(
                advocate_profile_integration_id="alice", friend_profile_integration_id="alice"
            )
        )

    def test_a_session_has_one_live_redemption_of_a_referral(self) -> None:
        referral = ReferralFactory(usage_limit=0)
        session = a_friend_session(referral)

        def redeem() -> ReferralRedemption:
            return ReferralRedemption.objects.create(
                referral=referral, campaign=referral.campaign, session=session, friend=None
            )

        first = redeem()
        assert refused(redeem)
        ReferralRedemption.objects.filter(pk=first.pk).update(rolled_back_at=F("created"))
        assert not refused(redeem)

    def test_a_friend_has_one_live_redemption_per_campaign(self) -> None:
        referral = ReferralFactory(usage_limit=0)
        other = ReferralFactory(campaign=referral.campaign, usage_limit=0)
        session = a_friend_session(referral)
        friend = session.profile

        def redeem(of: Referral, campaign: Campaign) -> Callable[[], Any]:
            return lambda: ReferralRedemption.objects.create(
                referral=of,
                campaign=campaign,
                session=CustomerSessionFactory(application=of.application, profile=friend),
                friend=friend,
            )

        redeem(referral, referral.campaign)()
        assert refused(redeem(other, other.campaign))
        # In another campaign, the friend is a new friend.
        elsewhere = ReferralFactory(campaign=CampaignFactory(application=referral.application))
        assert not refused(redeem(elsewhere, elsewhere.campaign))


# ---------------------------------------------------------------------------------------------
# Creating referrals, and finding them by code


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sensitivity", "stored", "finding", "missing"),
    [
        ("insensitive-uppercase", "FRIEND10", ["friend10", "Friend10", "FRIEND10"], ["FRIEND1"]),
        ("insensitive-lowercase", "friend10", ["friend10", "Friend10", "FRIEND10"], ["friend1"]),
        ("sensitive", "Friend10", ["Friend10"], ["friend10", "FRIEND10"]),
    ],
)
def test_codes_are_stored_and_found_as_the_application_compares_them(
    sensitivity: str, stored: str, finding: list[str], missing: list[str]
) -> None:
    campaign = CampaignFactory(application=ApplicationFactory(case_sensitivity=sensitivity))

    referral = referral_create(
        campaign=campaign, advocate_profile_integration_id="alice", code="Friend10"
    )
    found = referrals_find(application=campaign.application, codes=[*finding, *missing])

    assert referral.code == stored
    assert Referral.objects.get().code == stored
    assert {code: r.pk for code, r in found.items()} == dict.fromkeys(finding, referral.pk)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sensitivity", "other_case_is_a_new_code"),
    [("insensitive-uppercase", False), ("insensitive-lowercase", False), ("sensitive", True)],
)
def test_a_code_differing_only_in_case_is_new_only_where_case_counts(
    sensitivity: str, other_case_is_a_new_code: bool
) -> None:
    campaign = CampaignFactory(application=ApplicationFactory(case_sensitivity=sensitivity))
    referral_create(campaign=campaign, advocate_profile_integration_id="alice", code="Friend10")

    def again() -> Referral:
        return referral_create(
            campaign=campaign, advocate_profile_integration_id="bob", code="FRIEND10"
        )

    if other_case_is_a_new_code:
        again()
        assert Referral.objects.count() == 2
    else:
        with pytest.raises(ReferralExists, match="already exists"):
            again()
        assert Referral.objects.count() == 1


@pytest.mark.django_db
def test_generated_codes_are_unambiguous_and_unique() -> None:
    campaign = CampaignFactory()

    referrals = [
        referral_create(campaign=campaign, advocate_profile_integration_id=f"advocate-{n}")
        for n in range(200)
    ]

    codes = [referral.code for referral in referrals]
    assert len(set(codes)) == 200
    assert all(len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET) for code in codes)


@pytest.mark.django_db
def test_a_generated_code_is_stored_as_the_application_compares_codes() -> None:
    campaign = CampaignFactory(
        application=ApplicationFactory(case_sensitivity="insensitive-lowercase")
    )

    referral = referral_create(campaign=campaign, advocate_profile_integration_id="alice")

    assert referral.code == referral.code.lower()
    assert referrals_find(application=campaign.application, codes=[referral.code.upper()])


@pytest.mark.django_db
def test_a_generated_code_that_is_taken_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = ReferralFactory(code="TAKEN234")
    codes = iter(["TAKEN234", "TAKEN234", "FRESH234"])
    monkeypatch.setattr(referral_services, "referral_code_generate", lambda: next(codes))

    referral = referral_create(campaign=taken.campaign, advocate_profile_integration_id="bob")

    assert referral.code == "FRESH234"
    assert Referral.objects.count() == 2


@pytest.mark.django_db
def test_the_defaults_are_a_single_use_referral_for_anyone() -> None:
    campaign = CampaignFactory()

    referral = referral_create(campaign=campaign, advocate_profile_integration_id="alice")

    assert referral.application == campaign.application
    assert (referral.usage_limit, referral.usage_counter) == (1, 0)
    assert referral.friend_profile_integration_id == ""
    assert (referral.start_date, referral.expiry_date, referral.attributes) == (None, None, {})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"advocate_profile_integration_id": ""}, "advocate_profile_integration_id"),
        ({"advocate_profile_integration_id": "x" * 1001}, "advocate_profile_integration_id"),
        ({"friend_profile_integration_id": "alice"}, "friend_profile_integration_id"),
        ({"friend_profile_integration_id": "x" * 1001}, "friend_profile_integration_id"),
        ({"usage_limit": -1}, "usage_limit"),
        ({"usage_limit": 1_000_000}, "usage_limit"),
        ({"start_date": NOW, "expiry_date": NOW}, "expiry_date"),
        ({"code": ""}, "code"),
        ({"code": "x" * 101}, "code"),
    ],
)
def test_out_of_range_arguments_are_refused(arguments: dict[str, Any], field: str) -> None:
    campaign = CampaignFactory()

    with pytest.raises(ReferralInvalid) as refusal:
        referral_create(
            campaign=campaign, **{"advocate_profile_integration_id": "alice", **arguments}
        )

    assert refusal.value.field == field
    assert not Referral.objects.exists()


@pytest.mark.django_db
def test_finding_referrals_is_one_query_with_their_campaigns(
    django_assert_num_queries: Any,
) -> None:
    campaign = CampaignFactory(
        application=ApplicationFactory(case_sensitivity="insensitive-uppercase"), name="Friends"
    )
    first = ReferralFactory(campaign=campaign, code="FIRST")
    ReferralFactory(code="SECOND")  # another application's

    with django_assert_num_queries(1):
        found = referrals_find(application=campaign.application, codes=["first", "second", ""])
        names = {code: referral.campaign.name for code, referral in found.items()}

    assert {code: referral.pk for code, referral in found.items()} == {"first": first.pk}
    assert names == {"first": "Friends"}


@pytest.mark.django_db
def test_finding_no_codes_asks_nothing(django_assert_num_queries: Any) -> None:
    application = ApplicationFactory()

    with django_assert_num_queries(0):
        assert referrals_find(application=application, codes=[]) == {}
        assert referrals_find(application=application, codes=["", "x" * 101]) == {}


# ---------------------------------------------------------------------------------------------
# Why a referral is refused


def a_referral(**fields: Any) -> Referral:
    """An unsaved referral of campaign 1 by alice (rejection reads no database)."""
    return Referral(
        campaign_id=1,
        code="FRIEND10",
        **{"advocate_profile_integration_id": "alice", "usage_limit": 1, **fields},
    )


REJECTIONS = [
    ("unknown code", None, {}, Reason.REFERRAL_NOT_FOUND),
    ("usable", a_referral(), {}, None),
    (
        "campaign not running",
        a_referral(),
        {"running_campaign_ids": {2}},
        Reason.REFERRAL_PART_OF_NOT_RUNNING_CAMPAIGN,
    ),
    (
        "starts later",
        a_referral(start_date=NOW + timedelta(seconds=1)),
        {},
        Reason.REFERRAL_START_DATE_IN_FUTURE,
    ),
    ("starts now", a_referral(start_date=NOW), {}, None),
    ("expires now", a_referral(expiry_date=NOW), {}, Reason.REFERRAL_EXPIRED),
    ("expired", a_referral(expiry_date=NOW - HOUR), {}, Reason.REFERRAL_EXPIRED),
    ("expires later", a_referral(expiry_date=NOW + timedelta(seconds=1)), {}, None),
    (
        "the advocate's own session",
        a_referral(),
        {"profile_integration_id": "alice"},
        Reason.REFERRAL_RECIPIENT_ID_SAME_AS_ADVOCATE,
    ),
    (
        "another friend's",
        a_referral(friend_profile_integration_id="carol"),
        {"profile_integration_id": "bob"},
        Reason.REFERRAL_RECIPIENT_DOES_NOT_MATCH,
    ),
    (
        "the named friend's",
        a_referral(friend_profile_integration_id="bob"),
        {"profile_integration_id": "bob"},
        None,
    ),
    (
        "an anonymous session",
        a_referral(),
        {"profile_integration_id": None},
        Reason.REFERRAL_RECIPIENT_DOES_NOT_MATCH,
    ),
    (
        "a friend referred before in the campaign",
        a_referral(),
        {"already_referred": True},
        Reason.REFERRAL_CUSTOMER_ALREADY_REFERRED,
    ),
    ("used up", a_referral(usage_limit=5, usage_counter=5), {}, Reason.REFERRAL_LIMIT_REACHED),
    ("one use left", a_referral(usage_limit=5, usage_counter=4), {}, None),
    ("unlimited", a_referral(usage_limit=0, usage_counter=10_000), {}, None),
    # When several reasons hold, the first in the documented order wins.
    (
        "not running and expired",
        a_referral(expiry_date=NOW - HOUR),
        {"running_campaign_ids": set()},
        Reason.REFERRAL_PART_OF_NOT_RUNNING_CAMPAIGN,
    ),
    (
        "expired and the advocate's",
        a_referral(expiry_date=NOW - HOUR),
        {"profile_integration_id": "alice"},
        Reason.REFERRAL_EXPIRED,
    ),
    (
        "the advocate's and used up",
        a_referral(usage_counter=1),
        {"profile_integration_id": "alice"},
        Reason.REFERRAL_RECIPIENT_ID_SAME_AS_ADVOCATE,
    ),
    (
        "referred before and used up",
        a_referral(usage_counter=1),
        {"already_referred": True},
        Reason.REFERRAL_CUSTOMER_ALREADY_REFERRED,
    ),
]


@pytest.mark.parametrize(
    ("referral", "context", "reason"),
    [row[1:] for row in REJECTIONS],
    ids=[row[0] for row in REJECTIONS],
)
def test_a_referral_is_refused_for_the_first_reason_that_holds(
    referral: Referral | None, context: dict[str, Any], reason: Reason | None
) -> None:
    arguments = {
        "now": NOW,
        "profile_integration_id": "bob",
        "running_campaign_ids": {1},
        "already_referred": False,
    }

    assert referral_rejection(referral, **{**arguments, **context}) == reason


@pytest.mark.django_db
class TestAlreadyReferred:
    def test_a_friend_who_redeemed_a_code_of_the_campaign_was_referred(
        self, django_assert_num_queries: Any
    ) -> None:
        referral = ReferralFactory(usage_limit=0)
        other = ReferralFactory(campaign=referral.campaign, advocate_profile_integration_id="dan")
        session = a_friend_session(referral)
        assert close(session, referral) is None

        with django_assert_num_queries(1):
            assert referral_friend_already_referred(referral=other, profile=session.profile)

    def test_a_new_friend_was_not_referred(self) -> None:
        referral = ReferralFactory()

        profile = CustomerProfileFactory(application=referral.application)

        assert not referral_friend_already_referred(referral=referral, profile=profile)

    def test_a_redemption_in_another_campaign_does_not_count(self) -> None:
        referral = ReferralFactory()
        session = a_friend_session(referral)
        close(session, referral)
        elsewhere = ReferralFactory(campaign=CampaignFactory(application=referral.application))

        assert not referral_friend_already_referred(referral=elsewhere, profile=session.profile)

    def test_a_redemption_given_back_does_not_count(self) -> None:
        referral = ReferralFactory()
        session = a_friend_session(referral)
        close(session, referral)
        cancel(session)

        assert not referral_friend_already_referred(referral=referral, profile=session.profile)

    def test_the_sessions_own_redemption_does_not_count_for_that_session(self) -> None:
        referral = ReferralFactory()
        session = a_friend_session(referral)
        close(session, referral)

        assert not referral_friend_already_referred(
            referral=referral, profile=session.profile, session=session
        )

    def test_an_anonymous_session_asks_nothing(self, django_assert_num_queries: Any) -> None:
        referral = ReferralFactory()

        with django_assert_num_queries(0):
            assert not referral_friend_already_referred(referral=referral, profile=None)


# ---------------------------------------------------------------------------------------------
# Redeeming and giving back


@pytest.mark.django_db
class TestRedeem:
    def test_redeeming_counts_a_use_and_records_who_was_referred(self) -> None:
        referral = ReferralFactory(usage_limit=2)
        session = a_friend_session(referral, "bob")

        assert close(session, referral) is None

        assert counter(referral) == 1
        redemption = ReferralRedemption.objects.get()
        assert (redemption.referral, redemption.session, redemption.friend) == (
            referral,
            session,
            session.profile,
        )
        assert redemption.campaign == referral.campaign
        assert (redemption.created, redemption.rolled_back_at) == (NOW, None)

    def test_a_used_up_referral_is_refused_and_nothing_is_written(self) -> None:
        referral = ReferralFactory(usage_limit=1, usage_counter=1)

        assert close(a_friend_session(referral), referral) == Reason.REFERRAL_LIMIT_REACHED

        assert counter(referral) == 1
        assert not ReferralRedemption.objects.exists()

    @pytest.mark.parametrize(
        ("friend", "customer", "reason"),
        [
            ("", "alice", Reason.REFERRAL_RECIPIENT_ID_SAME_AS_ADVOCATE),
            ("carol", "bob", Reason.REFERRAL_RECIPIENT_DOES_NOT_MATCH),
        ],
    )
    def test_a_customer_who_may_not_use_the_code_is_refused(
        self, friend: str, customer: str, reason: Reason
    ) -> None:
        referral = ReferralFactory(
            advocate_profile_integration_id="alice", friend_profile_integration_id=friend
        )

        assert close(a_friend_session(referral, customer), referral) == reason

        assert counter(referral) == 0
        assert not ReferralRedemption.objects.exists()

    def test_the_named_friend_redeems(self) -> None:
        referral = ReferralFactory(friend_profile_integration_id="carol")

        assert close(a_friend_session(referral, "carol"), referral) is None
        assert counter(referral) == 1

    def test_an_anonymous_session_is_refused(self) -> None:
        referral = ReferralFactory()
        session = CustomerSessionFactory(application=referral.application, profile=None)

        assert close(session, referral) == Reason.REFERRAL_RECIPIENT_DOES_NOT_MATCH
        assert counter(referral) == 0

    def test_a_friend_is_referred_once_per_campaign(self) -> None:
        first = ReferralFactory(usage_limit=0, advocate_profile_integration_id="alice")
        second = ReferralFactory(campaign=first.campaign, advocate_profile_integration_id="dan")
        friend = CustomerProfileFactory(application=first.application)
        one, two = (
            CustomerSessionFactory(application=first.application, profile=friend) for _ in "12"
        )

        assert close(one, first) is None
        assert close(two, second) == Reason.REFERRAL_CUSTOMER_ALREADY_REFERRED

        assert (counter(first), counter(second)) == (1, 0)
        assert ReferralRedemption.objects.count() == 1

    def test_a_friend_already_referred_is_told_so_before_the_limit(self) -> None:
        first = ReferralFactory(usage_limit=0)
        used_up = ReferralFactory(campaign=first.campaign, usage_limit=1, usage_counter=1)
        friend_session = a_friend_session(first)
        close(friend_session, first)
        again = CustomerSessionFactory(
            application=first.application, profile=friend_session.profile
        )

        assert close(again, used_up) == Reason.REFERRAL_CUSTOMER_ALREADY_REFERRED

    def test_a_retried_close_redeems_once(self) -> None:
        referral = ReferralFactory(usage_limit=1)
        session = a_friend_session(referral)

        assert close(session, referral) is None
        assert close(session, referral) is None

        assert counter(referral) == 1
        assert live(referral) == 1

    def test_a_referral_of_another_application_is_not_redeemed(self) -> None:
        referral = ReferralFactory()
        session = CustomerSessionFactory()

        with pytest.raises(ValueError, match="different applications"):
            close(session, referral)
        assert counter(referral) == 0

    def test_cancelling_gives_the_use_back_and_frees_the_friend(self) -> None:
        referral = ReferralFactory(usage_limit=1)
        session = a_friend_session(referral)
        close(session, referral)

        given_back = cancel(session, now=NOW + HOUR)

        assert [(r.pk, r.usage_counter) for r in given_back] == [(referral.pk, 0)]
        assert counter(referral) == 0
        assert ReferralRedemption.objects.get().rolled_back_at == NOW + HOUR
        again = CustomerSessionFactory(application=referral.application, profile=session.profile)
        assert close(again, referral) is None

    def test_cancelling_twice_gives_back_once(self) -> None:
        referral = ReferralFactory(usage_limit=5, usage_counter=2)
        session = a_friend_session(referral)
        close(session, referral)

        assert len(cancel(session, now=NOW + HOUR)) == 1
        assert cancel(session, now=NOW + 2 * HOUR) == []

        assert counter(referral) == 2
        assert ReferralRedemption.objects.get().rolled_back_at == NOW + HOUR

    def test_a_session_without_a_referral_gives_nothing_back(self) -> None:
        referral = ReferralFactory(usage_counter=1)

        assert cancel(a_friend_session(referral)) == []
        assert counter(referral) == 1

    def test_a_counter_set_to_zero_by_hand_stays_at_zero(self) -> None:
        referral = ReferralFactory(usage_limit=2)
        session = a_friend_session(referral)
        close(session, referral)
        Referral.objects.filter(pk=referral.pk).update(usage_counter=0)

        assert [r.usage_counter for r in cancel(session)] == [0]
        assert counter(referral) == 0


# ---------------------------------------------------------------------------------------------
# Under real concurrency (PostgreSQL, one connection per thread)


@race
@pytest.mark.django_db(transaction=True)
def test_thirty_friends_closing_at_once_redeem_exactly_the_limit() -> None:
    referral = ReferralFactory(usage_limit=5)
    sessions = [a_friend_session(referral) for _ in range(30)]

    outcomes = all_at_once(lambda index: close(sessions[index], referral), 30)

    assert sorted(outcomes, key=str) == [None] * 5 + [Reason.REFERRAL_LIMIT_REACHED] * 25
    assert counter(referral) == 5
    assert live(referral) == 5


@race
@pytest.mark.django_db(transaction=True)
def test_one_friend_through_two_codes_of_a_campaign_at_once_is_referred_once() -> None:
    first = ReferralFactory(usage_limit=0, advocate_profile_integration_id="alice")
    second = ReferralFactory(
        campaign=first.campaign, usage_limit=0, advocate_profile_integration_id="dan"
    )
    friend = CustomerProfileFactory(application=first.application)
    sessions = [
        CustomerSessionFactory(application=first.application, profile=friend) for _ in range(10)
    ]
    referrals = [first, second] * 5

    outcomes = all_at_once(lambda index: close(sessions[index], referrals[index]), 10)

    assert sorted(outcomes, key=str) == [None] + [Reason.REFERRAL_CUSTOMER_ALREADY_REFERRED] * 9
    assert counter(first) + counter(second) == 1
    assert ReferralRedemption.objects.filter(friend=friend).count() == 1


@race
@pytest.mark.django_db(transaction=True)
def test_the_same_close_sent_many_times_at_once_redeems_once() -> None:
    referral = ReferralFactory(usage_limit=5)
    session = a_friend_session(referral)

    outcomes = all_at_once(lambda _: close(session, referral), 20)

    assert outcomes == [None] * 20
    assert counter(referral) == 1
    assert live(referral) == 1


@race
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_redemption_without_the_session_lock_still_counts_once() -> None:
    """The unique index is the net under the session lock: a second redemption of the same
    referral by the same session, started before the first committed, writes nothing."""
    referral = ReferralFactory(usage_limit=5)
    session = a_friend_session(referral)
    first_counted, second_started = threading.Event(), threading.Event()
    outcomes: dict[str, Reason | None] = {}

    def redeem() -> Reason | None:
        return referral_redeem_explained(
            referral=referral, session=session, profile=session.profile, now=NOW
        )

    def first() -> None:
        try:
            with transaction.atomic():
                outcomes["first"] = redeem()
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
                outcomes["second"] = redeem()
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes == {"first": None, "second": None}
    assert counter(referral) == 1
    assert live(referral) == 1


@race
@pytest.mark.django_db(transaction=True)
def test_two_roll_backs_of_one_session_at_once_give_back_once() -> None:
    """Without the session lock: the second roll-back waits for the first to commit, then finds
    nothing live."""
    referral = ReferralFactory(usage_limit=10, usage_counter=3)
    session = a_friend_session(referral)
    ReferralRedemption.objects.create(
        referral=referral,
        campaign=referral.campaign,
        session=session,
        friend=session.profile,
        created=NOW,
    )
    first_marked, second_started = threading.Event(), threading.Event()
    given_back: dict[str, list[int]] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                referrals = referral_redemptions_roll_back(session=session, now=NOW + HOUR)
                given_back["first"] = [r.pk for r in referrals]
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
                referrals = referral_redemptions_roll_back(session=session, now=NOW + 2 * HOUR)
                given_back["second"] = [r.pk for r in referrals]
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert given_back == {"first": [referral.pk], "second": []}
    assert counter(referral) == 2
    assert ReferralRedemption.objects.get().rolled_back_at == NOW + HOUR


@race
@pytest.mark.django_db(transaction=True)
def test_many_cancels_of_one_session_at_once_give_back_once() -> None:
    referral = ReferralFactory(usage_limit=5)
    session = a_friend_session(referral)
    close(session, referral)

    def roll_back(_: int) -> int:
        with transaction.atomic():
            return len(referral_redemptions_roll_back(session=session, now=NOW + HOUR))

    assert sorted(all_at_once(roll_back, 20)) == [0] * 19 + [1]
    assert counter(referral) == 0
    assert live(referral) == 0


@race
@pytest.mark.django_db(transaction=True)
def test_friends_closing_and_cancelling_at_once_keep_the_count_right() -> None:
    """Half the friends close, the other half (closed before) cancel, at once: the counter ends
    at the live redemptions, and no transaction deadlocks."""
    referral = ReferralFactory(usage_limit=0)
    closed_before = [a_friend_session(referral) for _ in range(15)]
    for session in closed_before:
        close(session, referral)
    closing = [a_friend_session(referral) for _ in range(15)]

    def work(index: int) -> Any:
        if index % 2:
            return cancel(closed_before[index // 2])
        return close(closing[index // 2], referral)

    all_at_once(work, 30)

    assert counter(referral) == 15
    assert live(referral) == 15


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
def test_every_referral_admin_page_renders(operator: Client) -> None:
    referral = ReferralFactory(code="FRIEND10")
    close(a_friend_session(referral), referral)
    redemption = ReferralRedemption.objects.get()

    pages = [
        admin_url(Referral, "changelist"),
        admin_url(Referral, "add"),
        admin_url(Referral, "change", referral.pk),
        admin_url(ReferralRedemption, "changelist"),
        admin_url(ReferralRedemption, "change", redemption.pk),
    ]

    assert [operator.get(page).status_code for page in pages] == [200] * 5
    assert operator.get(admin_url(ReferralRedemption, "add")).status_code == 403
    found = operator.get(admin_url(Referral, "changelist"), {"q": "friend10"})
    assert [r.pk for r in found.context["cl"].result_list] == [referral.pk]


def referral_form(**changes: Any) -> dict[str, Any]:
    data = {
        "advocate_profile_integration_id": "alice",
        "friend_profile_integration_id": "",
        "usage_limit": 1,
        "start_date_0": "",
        "start_date_1": "",
        "expiry_date_0": "",
        "expiry_date_1": "",
        "attributes": "{}",
        "batch_id": "",
    }
    return {**data, **changes}


@pytest.mark.django_db
def test_a_referral_added_in_the_admin_gets_its_code_normalised(operator: Client) -> None:
    campaign = CampaignFactory(
        application=ApplicationFactory(case_sensitivity="insensitive-uppercase")
    )
    ReferralFactory(campaign=campaign, code="TAKEN")
    form = referral_form(campaign=campaign.pk)

    added = operator.post(admin_url(Referral, "add"), {**form, "code": "friend10"})
    duplicate = operator.post(admin_url(Referral, "add"), {**form, "code": "taken"})
    themselves = operator.post(
        admin_url(Referral, "add"),
        {**form, "code": "SELF", "friend_profile_integration_id": "alice"},
    )

    assert added.status_code == 302
    referral = Referral.objects.get(code="FRIEND10")
    assert referral.application == campaign.application
    assert duplicate.status_code == 200
    assert "already has the code TAKEN" in duplicate.content.decode()
    assert themselves.status_code == 200
    assert not Referral.objects.filter(code="SELF").exists()


@pytest.mark.django_db
def test_saving_a_referral_in_the_admin_keeps_uses_counted_meanwhile(operator: Client) -> None:
    referral = ReferralFactory(usage_limit=5)
    close(a_friend_session(referral), referral)  # while the operator edits

    response = operator.post(
        admin_url(Referral, "change", referral.pk),
        referral_form(advocate_profile_integration_id="alice", usage_limit=7),
    )

    assert response.status_code == 302
    referral.refresh_from_db()
    assert (referral.usage_limit, referral.usage_counter) == (7, 1)
