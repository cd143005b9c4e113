"""Referrals: create codes for advocates, change and delete them, find the one a session names,
say why one cannot be used, redeem it when a friend's session closes and give it back when the
session is cancelled or returned. (CSV import and export: ``campaigns.services.referral_csv``.)

Codes are stored and looked up as coupon codes are, normalised by the application's case
sensitivity (``campaigns.services.coupons.coupon_code_normalised``): ``ab12cd34`` finds
``AB12CD34`` in an application that ignores case, and the unique constraint on ``(application,
code)`` refuses the second of two codes that differ only in case.

Who may use a code: a customer, not an anonymous session; not the advocate
(``ReferralRecipientIdSameAsAdvocate``); the friend it names, when it names one
(``ReferralRecipientDoesNotMatch``); a customer not yet referred in the campaign
(``ReferralCustomerAlreadyReferred``: a friend is referred once per campaign, whichever of the
campaign's codes they use). An anonymous session is refused with
``ReferralRecipientDoesNotMatch``: a referral rewards bringing in a customer, and without one
nobody can tell the advocate from a friend, or a friend referred before from a new one, so
every code would be open to unlimited use by anyone. (Talon.One's reference material does not
say; it has no ``ProfileRequired`` reason for referrals.)

Concurrency, as for coupons (see ``campaigns.services.coupons``): the counter is changed by the
database, never read, changed and written back.

- **Redeeming** inserts the redemption row, then counts the use with one conditional ``UPDATE
  referral SET usage_counter = usage_counter + 1 WHERE id = … AND (usage_limit = 0 OR
  usage_counter < usage_limit)``, both in one savepoint. The insert comes first so that its
  unique indexes answer before the limit does, in the order ``referral_rejection`` checks:
  a friend already referred in the campaign (by a redemption committed, or being committed by
  a concurrent session, which the insert waits for) is ``ReferralCustomerAlreadyReferred``;
  then the ``UPDATE`` (PostgreSQL re-evaluates its ``WHERE`` on the row a concurrent
  transaction committed) refuses a use past the limit (``ReferralLimitReached``), and the
  savepoint takes the row back out. The ``CHECK`` constraints are the net under it.
- **Giving back** is one conditional ``UPDATE referral_redemption SET rolled_back_at = now WHERE
  session_id = … AND rolled_back_at IS NULL RETURNING referral_id``: a redemption is marked by
  exactly one call, and only the referrals of the rows this call marked are decremented. A
  repeated cancel gives nothing back twice; a friend whose redemption was given back may be
  referred in the campaign again.
- **Idempotency per session**: a session has at most one live redemption of a referral, and
  ``referral_redeem_explained`` answers None without counting again when it finds one, so a
  retried close redeems once. The caller holds the session's row lock (as for coupons); without
  it, the unique index refuses the second insert before anything is counted.

Lock order, so that sessions cannot deadlock: the session row (taken by the caller), then its
coupons (``campaigns.services.coupons``), then the referral's redemption index entries and the
referral row (``referral_redeem_explained`` takes them in that order, for one referral: a
session has one referral code), then the budget counters. ``referral_redemptions_roll_back``
marks the session's redemptions, then locks their referrals in id order.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q

from campaigns.evaluation import stored_value
from campaigns.models import (
    Application,
    Campaign,
    CustomerProfile,
    CustomerSession,
    Referral,
    ReferralRedemption,
)
from campaigns.models.attributes import AttributeEntity
from campaigns.models.customers import INTEGRATION_ID_MAX_LENGTH
from campaigns.models.referrals import REFERRAL_CODE_MAX_LENGTH, REFERRAL_USAGE_LIMIT_MAX
from campaigns.services.attribute_values import attribute_definitions, attributes_read
from campaigns.services.coupons import codes_find, coupon_code_normalised
from rules.effects import ReferralRejectionReason

CODE_ALPHABET: Final = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
"""The characters of generated codes: digits and capital letters, without those read as one
another (0 and O, 1, I and L)."""

CODE_LENGTH: Final = 8
"""The length of a generated code: 32**8, about 10**12 codes."""

CODE_ATTEMPTS: Final = 10
"""How many generated codes ``referral_create`` tries before giving up: each collides with
probability (referrals in the application) / 10**12."""


class ReferralExists(Exception):
    """The application already has a referral with this code (compared as the application
    compares codes)."""

    def __init__(self, code: str) -> None:
        super().__init__(f"a referral with the code {code!r} already exists in this application")
        self.code = code


class ReferralInvalid(ValueError):
    """A referral that cannot be created as asked; ``field`` names the offending argument."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --------------------------------------------------------------------------------------------
# Creating


def referral_create(
    *,
    campaign: Campaign,
    advocate_profile_integration_id: str,
    friend_profile_integration_id: str = "",
    start_date: datetime | None = None,
    expiry_date: datetime | None = None,
    usage_limit: int = 1,
    attributes: dict[str, Any] | None = None,
    code: str | None = None,
) -> Referral:
    """A new referral code of the campaign for the advocate, in the campaign's application.

    ``code`` is stored normalised as the application compares codes; without one, a code of
    ``CODE_LENGTH`` characters of ``CODE_ALPHABET`` is generated (from ``secrets``), and
    another one tried when it is taken. ``attributes`` are stored with times and decimals as
    text (``stored_value``); the caller checks them against the application's definitions.

    Raises ``ReferralInvalid`` for an argument out of range (a friend who is the advocate
    included) and ``ReferralExists`` when the application already has the code given.
    """
    _check(
        advocate=advocate_profile_integration_id,
        friend=friend_profile_integration_id,
        start_date=start_date,
        expiry_date=expiry_date,
        usage_limit=usage_limit,
        attributes=attributes,
    )
    application = campaign.application
    fields: dict[str, Any] = {
        "application": application,
        "campaign": campaign,
        "advocate_profile_integration_id": advocate_profile_integration_id,
        "friend_profile_integration_id": friend_profile_integration_id,
        "start_date": start_date,
        "expiry_date": expiry_date,
        "usage_limit": usage_limit,
        "attributes": stored_value(attributes) if attributes is not None else {},
    }
    if code is not None:
        normalised = coupon_code_normalised(application=application, value=code)
        if not normalised:
            raise ReferralInvalid("code", "is not empty")
        if len(normalised) > REFERRAL_CODE_MAX_LENGTH:
            raise ReferralInvalid("code", f"has at most {REFERRAL_CODE_MAX_LENGTH} characters")
        referral = _insert(application=application, code=normalised, fields=fields)
        if referral is None:
            raise ReferralExists(normalised)
        return referral
    for _ in range(CODE_ATTEMPTS):
        generated = coupon_code_normalised(application=application, value=referral_code_generate())
        referral = _insert(application=application, code=generated, fields=fields)
        if referral is not None:
            return referral
    raise RuntimeError(f"{CODE_ATTEMPTS} generated referral codes in a row were taken")


def referral_code_generate() -> str:
    """A random code: ``CODE_LENGTH`` characters of ``CODE_ALPHABET``."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _insert(*, application: Application, code: str, fields: dict[str, Any]) -> Referral | None:
    """The referral, inserted with ``code`` in a savepoint; None when the application has the
    code already."""
    try:
        with transaction.atomic():
            return Referral.objects.create(code=code, **fields)
    except IntegrityError:
        if Referral.objects.filter(application=application, code=code).exists():
            return None
        raise


def _check(
    *,
    advocate: str,
    friend: str,
    start_date: datetime | None,
    expiry_date: datetime | None,
    usage_limit: int,
    attributes: Any,
) -> None:
    if not advocate:
        raise ReferralInvalid("advocate_profile_integration_id", "is not empty")
    for field, value in (
        ("advocate_profile_integration_id", advocate),
        ("friend_profile_integration_id", friend),
    ):
        if len(value) > INTEGRATION_ID_MAX_LENGTH:
            raise ReferralInvalid(field, f"has at most {INTEGRATION_ID_MAX_LENGTH} characters")
    if friend == advocate:
        raise ReferralInvalid("friend_profile_integration_id", "is not the advocate")
    if type(usage_limit) is not int or not 0 <= usage_limit <= REFERRAL_USAGE_LIMIT_MAX:
        raise ReferralInvalid("usage_limit", f"is between 0 and {REFERRAL_USAGE_LIMIT_MAX}")
    if start_date is not None and expiry_date is not None and expiry_date <= start_date:
        raise ReferralInvalid("expiry_date", "is after the start date")
    if attributes is not None and not isinstance(attributes, dict):
        raise ReferralInvalid("attributes", "is an object")


def referral_attributes_checked(application: Application, raw: Any) -> dict[str, Any]:
    """Referral attributes as stored, each defined for referrals and of its type; raises
    ``ReferralInvalid`` naming ``attributes``."""
    definitions = attribute_definitions(application, AttributeEntity.REFERRAL)
    stored, problem = attributes_read(raw or {}, definitions, entity=AttributeEntity.REFERRAL)
    if problem is not None:
        raise ReferralInvalid("attributes", problem)
    return stored


# --------------------------------------------------------------------------------------------
# Changing and deleting

#: The fields ``referral_update`` may change: not the code, the advocate or the counter.
REFERRAL_UPDATABLE_FIELDS: Final = frozenset(
    {"friend_profile_integration_id", "start_date", "expiry_date", "usage_limit", "attributes"}
)


def referral_update(
    *, referral_id: int, campaign: Campaign, changes: Mapping[str, Any]
) -> Referral:
    """Write ``changes`` (model field → value, of ``REFERRAL_UPDATABLE_FIELDS``) to the
    campaign's referral, and nothing else; the referral as it now is.

    The referral's row is locked first, so that no use is counted in between: a usage limit
    (other than 0, no limit) is never set below the uses made. The attributes must be defined
    for referrals and of their types. Raises ``Referral.DoesNotExist`` and ``ReferralInvalid``
    (nothing written).
    """
    unknown = sorted(set(changes) - REFERRAL_UPDATABLE_FIELDS)
    if unknown:
        raise ReferralInvalid(unknown[0], "cannot be changed")
    with transaction.atomic():
        referral = Referral.objects.select_for_update().get(campaign=campaign, pk=referral_id)
        if "attributes" in changes:
            attributes = referral_attributes_checked(campaign.application, changes["attributes"])
            changes = {**changes, "attributes": attributes}
        for name, value in changes.items():
            setattr(referral, name, value)
        _check(
            advocate=referral.advocate_profile_integration_id,
            friend=referral.friend_profile_integration_id,
            start_date=referral.start_date,
            expiry_date=referral.expiry_date,
            usage_limit=referral.usage_limit,
            attributes=referral.attributes,
        )
        used = referral.usage_counter
        if "usage_limit" in changes and 0 < referral.usage_limit < used:
            raise ReferralInvalid(
                "usage_limit", f"is 0 (no limit) or at least {used}, the uses made"
            )
        if changes:
            referral.save(update_fields=list(changes))
        return referral


def referral_delete(*, referral_id: int, campaign: Campaign) -> None:
    """Delete the campaign's referral with its redemptions; raises ``Referral.DoesNotExist``
    when the campaign has no such referral.

    The friends it referred may then be referred again in the campaign (a friend is referred
    once per campaign by their live redemptions, which go with the code); the rewards their
    sessions earned stay theirs."""
    deleted, _ = Referral.objects.filter(campaign=campaign, pk=referral_id).delete()
    if not deleted:
        raise Referral.DoesNotExist


# --------------------------------------------------------------------------------------------
# Finding and judging


def referrals_find(*, application: Application, codes: Sequence[str]) -> dict[str, Referral]:
    """The application's referrals named by ``codes``, keyed by each code as the caller sent it
    (two codes that normalise to the same one both map to its referral); a code that names no
    referral is left out. One query (none without a code that could exist); each referral comes
    with its campaign."""
    return codes_find(
        Referral,
        field="code",
        max_length=REFERRAL_CODE_MAX_LENGTH,
        application=application,
        values=codes,
    )


def referral_rejection(
    referral: Referral | None,
    *,
    now: datetime,
    profile_integration_id: str | None,
    running_campaign_ids: Collection[int],
    already_referred: bool,
) -> ReferralRejectionReason | None:
    """Why the referral cannot be used now by this customer, or None when it can.

    As for coupons, the checks go from what concerns everyone to what concerns this customer,
    and the limit last, since it is the only answer that can change before the session closes
    (``referral_redeem_explained`` asks it again, in the database): the code exists
    (``ReferralNotFound``); its campaign runs (``ReferralPartOfNotRunningCampaign``); it has
    started (``ReferralStartDateInFuture``) and not expired (``ReferralExpired``: at
    ``expiry_date`` it is expired); the session has a customer
    (``ReferralRecipientDoesNotMatch``: see the module docstring) who is not the advocate
    (``ReferralRecipientIdSameAsAdvocate``) and is the friend it names, when it names one
    (``ReferralRecipientDoesNotMatch``); the customer was not referred in the campaign before
    (``ReferralCustomerAlreadyReferred``); it has uses left (``ReferralLimitReached``).

    Reads nothing from the database: ``profile_integration_id`` is the session's customer (None
    for an anonymous session), ``running_campaign_ids`` the application's running campaigns
    and ``already_referred`` what ``referral_friend_already_referred`` answers.
    """
    if referral is None:
        return ReferralRejectionReason.REFERRAL_NOT_FOUND
    if referral.campaign_id not in running_campaign_ids:
        return ReferralRejectionReason.REFERRAL_PART_OF_NOT_RUNNING_CAMPAIGN
    if referral.start_date is not None and referral.start_date > now:
        return ReferralRejectionReason.REFERRAL_START_DATE_IN_FUTURE
    if referral.expiry_date is not None and referral.expiry_date <= now:
        return ReferralRejectionReason.REFERRAL_EXPIRED
    recipient = _recipient_refusal(referral, profile_integration_id)
    if recipient is not None:
        return recipient
    if already_referred:
        return ReferralRejectionReason.REFERRAL_CUSTOMER_ALREADY_REFERRED
    if referral.usage_limit > 0 and referral.usage_counter >= referral.usage_limit:
        return ReferralRejectionReason.REFERRAL_LIMIT_REACHED
    return None


def _recipient_refusal(
    referral: Referral, profile_integration_id: str | None
) -> ReferralRejectionReason | None:
    """Why this customer (None: an anonymous session) may not use the referral at all."""
    if profile_integration_id is None:
        return ReferralRejectionReason.REFERRAL_RECIPIENT_DOES_NOT_MATCH
    if profile_integration_id == referral.advocate_profile_integration_id:
        return ReferralRejectionReason.REFERRAL_RECIPIENT_ID_SAME_AS_ADVOCATE
    friend = referral.friend_profile_integration_id
    if friend and friend != profile_integration_id:
        return ReferralRejectionReason.REFERRAL_RECIPIENT_DOES_NOT_MATCH
    return None


def referral_friend_already_referred(
    *,
    referral: Referral,
    profile: CustomerProfile | None,
    session: CustomerSession | None = None,
) -> bool:
    """Whether the customer has a live redemption of a referral of ``referral``'s campaign, for
    ``referral_rejection``'s ``already_referred``: a friend is referred once per campaign.

    A redemption by ``session`` itself does not count, so that evaluating again a session that
    already redeemed the code does not refuse it. One query; none without a profile (an
    anonymous session is refused for another reason)."""
    if profile is None:
        return False
    redemptions = ReferralRedemption.objects.filter(
        campaign_id=referral.campaign_id, friend=profile, rolled_back_at__isnull=True
    )
    if session is not None:
        redemptions = redemptions.exclude(session=session)
    return redemptions.exists()


# --------------------------------------------------------------------------------------------
# Redeeming and giving back


class _Refused(Exception):
    """Raised inside ``referral_redeem_explained``'s savepoint to undo what it wrote."""

    def __init__(self, reason: ReferralRejectionReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


def referral_redeem_explained(
    *,
    referral: Referral,
    session: CustomerSession,
    profile: CustomerProfile | None,
    now: datetime,
) -> ReferralRejectionReason | None:
    """Count one use of the referral by the session's customer, unless something refuses it.

    None when the session has redeemed the referral (now, or already: a live redemption of this
    referral by this session counts once however often the close is retried). Otherwise the
    reason, and nothing is written: ``ReferralRecipientDoesNotMatch`` (an anonymous session, or
    a customer other than the friend the code names), ``ReferralRecipientIdSameAsAdvocate``,
    ``ReferralCustomerAlreadyReferred`` (the customer has a live redemption in the campaign,
    committed before this one), ``ReferralLimitReached`` (no use left). The redemption row and
    the count are made in one savepoint: both or neither.

    Call it inside the transaction that holds the session's row lock (see the module
    docstring). The referral's counter in memory is not refreshed.
    """
    if referral.application_id != session.application_id:
        raise ValueError(
            f"referral {referral.pk} and session {session.pk} belong to different applications"
        )
    live = ReferralRedemption.objects.filter(
        referral=referral, session=session, rolled_back_at__isnull=True
    )
    if live.exists():
        return None
    recipient = _recipient_refusal(
        referral, profile.integration_id if profile is not None else None
    )
    if recipient is not None:
        return recipient
    try:
        with transaction.atomic():
            ReferralRedemption.objects.create(
                referral=referral,
                campaign_id=referral.campaign_id,
                session=session,
                friend=profile,
                created=now,
            )
            counted = (
                Referral.objects.filter(pk=referral.pk)
                .filter(Q(usage_limit=0) | Q(usage_counter__lt=F("usage_limit")))
                .update(usage_counter=F("usage_counter") + 1)
            )
            if not counted:
                raise _Refused(ReferralRejectionReason.REFERRAL_LIMIT_REACHED)
    except _Refused as refused:
        return refused.reason
    except IntegrityError:
        # One of the live redemptions' unique indexes refused the row, against a redemption
        # committed since the check above (the insert waited for it): this session's own
        # (a concurrent retry of the close), or the friend's in the campaign.
        if live.exists():
            return None
        if referral_friend_already_referred(referral=referral, profile=profile):
            return ReferralRejectionReason.REFERRAL_CUSTOMER_ALREADY_REFERRED
        raise
    return None


def referral_redemptions_roll_back(*, session: CustomerSession, now: datetime) -> list[Referral]:
    """Give back every live referral redemption of the session, once: mark them rolled back
    and take one use off each of their referrals. The referrals given back, in id order, with
    their counters as they now are (for the ``rollbackReferral`` effects); none when there was
    nothing live (a second call, or a concurrent one that came first)."""
    with transaction.atomic():  # marked and given back together, or neither
        referral_ids = _redemptions_mark_rolled_back(session=session, now=now)
        if not referral_ids:
            return []
        referrals = list(
            Referral.objects.select_for_update(no_key=True)
            .filter(pk__in=referral_ids)
            .order_by("pk")
        )
        # A session has one live redemption of a referral, so each is given back once. A
        # counter an operator set below the uses still live stays at 0 rather than failing the
        # cancel: the redemption is given back either way.
        Referral.objects.filter(pk__in=referral_ids, usage_counter__gt=0).update(
            usage_counter=F("usage_counter") - 1
        )
    for referral in referrals:
        referral.usage_counter = max(referral.usage_counter - 1, 0)
    return referrals


def _redemptions_mark_rolled_back(*, session: CustomerSession, now: datetime) -> list[int]:
    """Mark the session's live redemptions rolled back, in one conditional statement, and
    return the referral ids of the rows this statement marked, sorted (``RETURNING``, which the
    ORM's ``update`` cannot do)."""
    meta = ReferralRedemption._meta
    quote = connection.ops.quote_name
    rolled_back_at = meta.get_field("rolled_back_at")
    session_column = quote(meta.get_field("session").column)
    referral_column = quote(meta.get_field("referral").column)
    rolled_back_column = quote(rolled_back_at.column)
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {rolled_back_column} = %s "  # noqa: S608 (names only)
        f"WHERE {session_column} = %s AND {rolled_back_column} IS NULL "
        f"RETURNING {referral_column}"
    )
    params: list[Any] = [rolled_back_at.get_db_prep_save(now, connection), session.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(row[0] for row in cursor.fetchall())
