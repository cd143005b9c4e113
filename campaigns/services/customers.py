"""Customer profiles and events: update a profile, track an event, and run the rules on them;
update many profiles at once; forget a customer.

A profile update merges the attributes it carries into the profile (created if new) and, when
asked (``run_rule_engine``), evaluates the running campaigns against the profile. An event is
stored and always evaluated, with ``Event`` (its type and attributes) and the profile in the
binding. Effects of both are confirmed at once (there is no session to close), so they are
recorded in the effect log; ``dry`` evaluates, answers the same, and writes nothing.

A batch update (``customer_profiles_update``) merges attributes into up to a thousand profiles
in one transaction and runs no rules, as Talon.One's ``PUT /v2/customer_profiles`` does not.

Forgetting a customer (``customer_data_delete``, the GDPR erasure) deletes the profile and
everything that identifies the customer: their sessions with their cart items, their events, and
the answers stored for their requests sent with an ``Idempotency-Key`` (``IdempotentRequest``:
the answers to their events and to the returns of their sessions, which repeat their profile,
session and event). A stored answer is linked to its customer's profile with
``on_delete=CASCADE`` rather than deleted here by hand, so that whatever deletes a profile (this
erasure, the admin, an application's deletion) takes the answers along and none is left behind
by a path that forgot them. An answer about no customer (a return of an anonymous session) is
linked to nobody and is not deleted here: it is replayed for ``IDEMPOTENCY_KEY_LIFETIME`` (24
hours) only, and its row goes when its key is used again (nothing purges expired answers yet).
Their effect records are **kept, anonymised**: they are what analytics count (discounts given per
campaign and day) and what budgets will be measured against (issue 5), and deleting them would
rewrite those figures and hand a deleted customer's budget share back. Anonymising unlinks a
record from the profile, session and event, and removes the props that name the customer or may
carry their data (``_IDENTIFYING_PROPS``); the campaign, rule, effect type, amounts and times
stay. An anonymised record is history only: nothing reads it back as an effect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from campaigns.attribute_updates import attribute_changes
from campaigns.compiled import compiled_campaigns_get
from campaigns.evaluation import Exclusion, profile_binding, stored_value, typed_attributes
from campaigns.models import (
    Application,
    Coupon,
    CouponReservation,
    CustomerProfile,
    CustomerSession,
    EffectRecord,
    Event,
    IdempotentRequest,
)
from campaigns.services.webhooks import webhook_deliveries_record, webhook_effects
from rules.engine import FiredEffect, RuleFailure, RuleRef
from rules.types import Type

if TYPE_CHECKING:
    from integration.payloads import ProfileAttributes


@dataclass(frozen=True)
class CustomerOutcome:
    """What a profile update or an event did, and the effects the rules gave."""

    profile: CustomerProfile
    event: Event | None
    effects: list[FiredEffect]
    failures: list[RuleFailure]
    ruleset_ids: Mapping[int, int | None]
    campaign_names: Mapping[int, str]
    set_aside: Sequence[tuple[RuleRef, Exclusion]] = ()
    """Rules that fired in campaigns their evaluation group set aside, with why."""


def customer_profile_update(
    *,
    application: Application,
    integration_id: str,
    attributes: Mapping[str, Any] | None,
    custom_types: Mapping[str, Mapping[str, Type]],
    now: datetime,
    run_rule_engine: bool = False,
    dry: bool = False,
) -> CustomerOutcome:
    """Create or update the profile ``integration_id``; evaluate it when asked."""
    with transaction.atomic():
        profile = _locked_profile(application=application, integration_id=integration_id, now=now)
        if attributes:
            profile.attributes = {**profile.attributes, **stored_value(dict(attributes))}
        profile.last_activity = now
        profile.save()
        outcome = CustomerOutcome(profile, None, [], [], {}, {})
        if run_rule_engine:
            outcome = _evaluate(
                application=application,
                profile=profile,
                event=None,
                custom_types=custom_types,
                now=now,
            )
        if dry:
            transaction.set_rollback(True)
    return outcome


def event_track(
    *,
    application: Application,
    profile_id: str,
    event_type: str,
    attributes: Mapping[str, Any],
    custom_types: Mapping[str, Mapping[str, Type]],
    now: datetime,
    dry: bool = False,
) -> CustomerOutcome:
    """Store an event of the profile ``profile_id`` (created if new) and evaluate it."""
    with transaction.atomic():
        profile = _locked_profile(application=application, integration_id=profile_id, now=now)
        profile.last_activity = now
        profile.save(update_fields=["last_activity", "modified"])
        event = Event.objects.create(
            application=application,
            profile=profile,
            type=event_type,
            attributes=stored_value(dict(attributes)),
            created=now,
        )
        outcome = _evaluate(
            application=application,
            profile=profile,
            event=event,
            custom_types=custom_types,
            now=now,
        )
        if dry:
            transaction.set_rollback(True)
    return outcome


def _locked_profile(
    *, application: Application, integration_id: str, now: datetime
) -> CustomerProfile:
    profile, _ = CustomerProfile.objects.select_for_update().get_or_create(
        application=application, integration_id=integration_id, defaults={"last_activity": now}
    )
    return profile


def _evaluate(
    *,
    application: Application,
    profile: CustomerProfile,
    event: Event | None,
    custom_types: Mapping[str, Mapping[str, Type]],
    now: datetime,
) -> CustomerOutcome:
    """Run the rules on the profile (and the event): record their effects, apply their
    attribute updates."""
    compiled = compiled_campaigns_get(application=application, now=now)
    binding: dict[str, Any] = {
        "Application": {"Id": Decimal(application.pk), "Name": application.name},
        "Now": now,
        "Profile": profile_binding(profile, custom_types.get("CustomerProfile", {})),
    }
    if event is not None:
        binding["Event"] = {
            "Type": event.type,
            "Attributes": typed_attributes(event.attributes, custom_types.get("Event", {})),
        }
    result = compiled.evaluate(binding, now=now)
    effects, refused, changes = attribute_changes(
        result.effects, types=custom_types, roots=("Profile",)
    )
    if changes.profile:
        profile_attributes_merge(profile, changes.profile)
    effects, unsent, calls = webhook_effects(effects, application=application)
    rulesets = {campaign.pk: campaign.active_ruleset_id for campaign in compiled.campaigns}
    records = EffectRecord.objects.bulk_create(
        EffectRecord(
            application=application,
            campaign_id=fired.rule.ruleset,
            ruleset_id=rulesets.get(fired.rule.ruleset),
            profile=profile,
            event=event,
            rule_index=fired.rule.rule_index,
            rule_name=fired.rule.title,
            effect_type=fired.effect.effect_type,
            props=fired.effect.props(),
            created=now,
        )
        for fired in effects
    )
    if calls:
        webhook_deliveries_record(
            application=application,
            effects=effects,
            calls=calls,
            records=records,
            profile=profile,
            event=event,
            now=now,
        )
    names = {campaign.pk: campaign.name for campaign in compiled.campaigns}
    failures = [*result.failures, *refused, *unsent]
    return CustomerOutcome(
        profile, event, effects, failures, rulesets, names, set_aside=result.set_aside()
    )


def profile_attributes_merge(profile: CustomerProfile, changes: Mapping[str, Any]) -> None:
    """Merge ``changes`` (stored values) into the attributes of ``profile``, on its row and on
    the instance. The row is locked and read first, so that what a concurrent request wrote to
    other attributes is kept."""
    with transaction.atomic():
        locked = CustomerProfile.objects.select_for_update().filter(pk=profile.pk)
        current = locked.values_list("attributes", flat=True).get()
        profile.attributes = {**current, **changes}
        profile.modified = timezone.now()
        locked.update(attributes=profile.attributes, modified=profile.modified)


# --------------------------------------------------------------------------------------------
# Many profiles at once


@dataclass(frozen=True)
class ProfilesBatchOutcome:
    """The profiles of a batch update, in the order they were sent, and which were new."""

    profiles: list[CustomerProfile]
    created: frozenset[str]
    """The integration ids of the profiles the batch created."""

    @property
    def updated(self) -> int:
        """How many profiles existed before the batch."""
        return len(self.profiles) - len(self.created)


def customer_profiles_update(
    *,
    application: Application,
    profiles: Sequence[ProfileAttributes],
    now: datetime,
) -> ProfilesBatchOutcome:
    """Create or update every profile of ``profiles`` in one transaction, merging each one's
    attributes; no rules run and ``last_activity`` moves for none (Talon.One moves it only on
    calls that run the rules).

    The integration ids must be distinct (the parser sees to it). Rows are created and then
    locked in one order, by integration id and by primary key, so that two batches that share
    profiles wait for each other rather than deadlock. A profile another request creates while
    the batch runs is updated, and counted as created.
    """
    ordered = sorted(profiles, key=lambda profile: profile.integration_id)
    ids = [profile.integration_id for profile in ordered]
    scoped = CustomerProfile.objects.filter(application=application, integration_id__in=ids)
    with transaction.atomic():
        existing = set(scoped.values_list("integration_id", flat=True))
        CustomerProfile.objects.bulk_create(
            [
                CustomerProfile(application=application, integration_id=id_, last_activity=now)
                for id_ in ids
                if id_ not in existing
            ],
            ignore_conflicts=True,  # created meanwhile by another request: update it instead
        )
        locked = {
            profile.integration_id: profile for profile in scoped.select_for_update().order_by("pk")
        }
        changed: list[CustomerProfile] = []
        for item in ordered:
            if item.attributes:
                profile = locked[item.integration_id]
                profile.attributes = {**profile.attributes, **stored_value(dict(item.attributes))}
                profile.modified = now  # bulk_update leaves auto_now fields alone
                changed.append(profile)
        CustomerProfile.objects.bulk_update(changed, ["attributes", "modified"], batch_size=500)
    return ProfilesBatchOutcome(
        profiles=[locked[profile.integration_id] for profile in profiles],
        created=frozenset(ids) - existing,
    )


# --------------------------------------------------------------------------------------------
# Forgetting a customer

_IDENTIFYING_PROPS: Final = frozenset(
    {
        # The customer, or what was theirs.
        "profileIntegrationId",
        "recipientIntegrationId",
        "profileId",
        "cardIdentifier",
        "couponValue",
        "code",
        # Text and payloads a rule may have built from the customer's attributes.
        "title",
        "body",
        "details",
        "message",
        "payload",
    }
)
"""Props removed from a forgotten customer's effect records, whatever the effect type."""

_VALUE_IS_NOT_AN_AMOUNT: Final = frozenset(
    {
        "acceptCoupon",
        "rejectCoupon",
        "rollbackCoupon",
        "couponCreated",
        "acceptReferral",
        "rejectReferral",
        "rollbackReferral",
        "referralCreated",
        "updateAttribute",
    }
)
"""Effect types whose ``value`` prop is a code or an attribute's value rather than an amount:
it is removed too."""


@dataclass(frozen=True)
class CustomerDataDeletion:
    """What forgetting a customer did."""

    sessions: int
    """Sessions deleted, with their cart items."""
    events: int
    effect_records: int
    """Effect records anonymised (kept, see the module)."""
    stored_answers: int
    """Stored idempotent answers deleted (with the profile, see the module)."""


def customer_data_delete(*, application: Application, integration_id: str) -> CustomerDataDeletion:
    """Forget the customer ``integration_id`` of ``application`` (see the module), in one
    transaction. Raises ``CustomerProfile.DoesNotExist`` when the application has no such
    profile; nothing of another application, or of another customer, is touched.
    """
    with transaction.atomic():
        profile = CustomerProfile.objects.select_for_update().get(
            application=application, integration_id=integration_id
        )
        records = EffectRecord.objects.filter(application=application).filter(
            Q(profile=profile)
            | Q(session__profile=profile)
            | Q(event__profile=profile)
            | Q(event__session__profile=profile)
        )
        anonymised = _anonymise(records)
        _, events = (
            Event.objects.filter(application=application)
            .filter(Q(profile=profile) | Q(session__profile=profile))
            .delete()
        )
        # Deleting a session deletes what hangs off it (its cart items) as its models say.
        _, sessions = CustomerSession.objects.filter(
            application=application, profile=profile
        ).delete()
        # Their coupon reservations go with the profile; the coupons count them no more.
        reserved = list(
            CouponReservation.objects.filter(profile=profile)
            .order_by("coupon_id")
            .values_list("coupon_id", flat=True)
        )
        for coupon_id in reserved:  # in id order, the coupons' lock order
            Coupon.objects.filter(pk=coupon_id, reservation_counter__gt=0).update(
                reservation_counter=F("reservation_counter") - 1
            )
        # The stored idempotent answers go with the profile (CASCADE, see the module).
        _, forgotten = profile.delete()
    return CustomerDataDeletion(
        sessions=sessions.get(CustomerSession._meta.label, 0),
        events=events.get(Event._meta.label, 0),
        effect_records=anonymised,
        stored_answers=forgotten.get(IdempotentRequest._meta.label, 0),
    )


def _anonymise(records: QuerySet[EffectRecord]) -> int:
    """Unlink ``records`` from the customer and strip what identifies them from their props."""
    scrubbed: list[EffectRecord] = []
    for record in records.only("pk", "effect_type", "props"):
        props = {
            key: value
            for key, value in record.props.items()
            if key not in _IDENTIFYING_PROPS
            and not (key == "value" and record.effect_type in _VALUE_IS_NOT_AN_AMOUNT)
        }
        if props != record.props:
            record.props = props
            scrubbed.append(record)
    EffectRecord.objects.bulk_update(scrubbed, ["props"], batch_size=500)
    return records.update(profile=None, session=None, event=None)
