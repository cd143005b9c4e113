"""``PUT`` and ``GET /v2/customer_sessions/{customerSessionId}``: thin views over the session
service. They parse (``integration.payloads``), call ``campaigns.services.sessions``, and render
(``integration.render``) in Talon.One's wire format."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.request import Request

from campaigns.compiled import attribute_schema_get
from campaigns.evaluation import Exclusion, typed_attributes
from campaigns.models import (
    Application,
    CartItem,
    Coupon,
    CustomerProfile,
    CustomerSession,
    Referral,
)
from campaigns.selectors import customer_session_get
from campaigns.services.keys import integration_key_session_lock, integration_key_used
from campaigns.services.sessions import LockedSession, SessionOutcome, customer_session_update
from integration.authentication import (
    api_key_alone,
    api_key_authenticated,
    api_key_unknown,
    request_api_key,
)
from integration.errors import BadRequest, ErrorItem, NotFound
from integration.payloads import parse_session_update
from integration.render import (
    CartItemView,
    CouponView,
    JsonText,
    ProfileView,
    ReferralView,
    SessionView,
    customer_profile_json,
    customer_session_json,
    dumps,
    effect_json,
    effects_json,
    render_customer_session,
    render_effect,
    render_rule_failure,
    render_session_update_response,
)
from integration.views import IntegrationView
from rules.engine import FiredEffect, RuleFailure, RuleRef
from rules.types import Type
from rules.values import parse_instant

JSON = "application/json"


def json_response(data: Any) -> HttpResponse:
    return HttpResponse(dumps(data), content_type=JSON)


def query_flag(request: Request, name: str) -> bool:
    return str(request.query_params.get(name, "")).lower() == "true"


class CustomerSessionView(IntegrationView):
    """Create or update a session and run the rules (``PUT``); read it (``GET``).

    The hot path: a ``PUT`` that carries an API key and no ``Content-Signature`` has its key
    checked by ``put`` itself, in the update's transaction, by the statement that reads and
    locks the session (``integration_key_session_lock``), rather than by DRF's authentication
    in a statement of its own before it: one round trip fewer. The outcome is the same: the
    key is checked before anything else (the body included) and refused with the same 401
    (malformed, or unknown or expired: then nothing is locked, let alone written), and the
    request is authenticated as the key's application as ``ApiKeyAuthentication`` would
    have done it. Signed requests, and requests without a key, take DRF's way.
    """

    def perform_authentication(self, request: Request) -> None:
        if not self._checks_key(request):
            super().perform_authentication(request)

    def check_permissions(self, request: Request) -> None:
        if not self._checks_key(request):
            super().check_permissions(request)

    def _checks_key(self, request: Request) -> bool:
        """Whether ``put`` checks the request's API key itself (see the class)."""
        return request.method == "PUT" and api_key_alone(request)

    def put(self, request: Request, customer_session_id: str) -> HttpResponse:
        if not self._checks_key(request):
            return self._update(request, customer_session_id, self.application)
        raw_key = request_api_key(request)
        assert raw_key is not None, "_checks_key saw an ApiKey-v1 authorization"
        now = timezone.now()
        found = None
        try:
            with transaction.atomic():
                found = integration_key_session_lock(
                    raw_key=raw_key, integration_id=customer_session_id, now=now
                )
                if found is None:
                    raise api_key_unknown()
                api_key_authenticated(request, found.application)
                return self._update(
                    request,
                    customer_session_id,
                    found.application,
                    locked=LockedSession(found.session),
                )
        finally:
            # After the transaction, which a dry run rolls back.
            if found is not None:
                integration_key_used(found, now=now)

    def _update(
        self,
        request: Request,
        customer_session_id: str,
        application: Application,
        locked: LockedSession | None = None,
    ) -> HttpResponse:
        schema = attribute_schema_get(application=application)
        update = parse_session_update(request.data, custom_attributes=schema.declared)
        dry = query_flag(request, "dry")
        outcome = customer_session_update(
            application=application,
            integration_id=customer_session_id,
            update=update,
            custom_types=schema.types,
            now=evaluation_time(request, dry=dry),
            dry=dry,
            locked=locked,
        )
        wanted = update.response_content
        # The largest parts are written straight to JSON text (see ``integration.render``).
        profile = profile_view(outcome.profile, types=schema.types)
        return json_response(
            render_session_update_response(
                effects=written_effects(outcome.effects, outcome.ruleset_ids),
                response_content=wanted,
                customer_session=customer_session_json(
                    session_view(outcome.session, outcome.items, types=schema.types)
                )
                if "customerSession" in wanted
                else None,
                customer_profile=customer_profile_json(profile)
                if "customerProfile" in wanted and profile is not None
                else None,
                rule_failure_reasons=rendered_failures(
                    outcome.failures,
                    campaign_names=outcome.campaign_names,
                    ruleset_ids=outcome.ruleset_ids,
                    set_aside=outcome.set_aside,
                )
                if "ruleFailureReasons" in update.response_content
                else (),
                coupons=[coupon_view(coupon) for coupon in outcome.coupons]
                if "coupons" in update.response_content
                else (),
                created_coupons=[coupon_view(coupon) for coupon in outcome.created_coupons],
                created_referrals=[
                    referral_view(referral, types=schema.types)
                    for referral in outcome.created_referrals
                ],
            )
        )

    def get(self, request: Request, customer_session_id: str) -> HttpResponse:
        try:
            session = customer_session_get(
                application=self.application, integration_id=customer_session_id
            )
        except CustomerSession.DoesNotExist:
            raise NotFound(f"There is no customer session {customer_session_id!r}.") from None
        items = list(session.cart_items.order_by("position"))
        types = attribute_schema_get(application=self.application).types
        return json_response(
            {
                "customerSession": render_customer_session(
                    session_view(session, items, types=types)
                ),
                "effects": [],
                "loyalty": None,
                "referral": None,
                "coupons": [],
                "triggeredCampaigns": [],
            }
        )


def evaluation_time(request: Request, *, dry: bool) -> datetime:
    """The evaluation's clock: ``now`` is honoured only in a dry run, as in Talon.One."""
    given = request.query_params.get("now")
    if given is None:
        return timezone.now()
    # The instant, in UTC: PostgreSQL stores no offset beyond ±15:59, which RFC 3339 allows.
    moment = parse_instant(str(given))
    if not dry or moment is None:
        detail = "an RFC 3339 time" if moment is None else "only allowed with dry=true"
        raise BadRequest(
            "The now parameter is not valid.",
            [ErrorItem(code="invalid_now", title="Invalid value", details=detail, parameter="now")],
        )
    return moment


def rendered_effects(
    effects: Sequence[FiredEffect], ruleset_ids: Mapping[int, int | None]
) -> list[dict[str, Any]]:
    """Effects in the wire format; a rule's ruleset key is its campaign's id."""
    return [
        render_effect(
            campaign_id=fired.rule.ruleset,
            ruleset_id=ruleset_ids.get(fired.rule.ruleset) or 0,
            rule_index=fired.rule.rule_index,
            rule_name=fired.rule.title,
            effect=fired.effect,
        )
        for fired in effects
    ]


def written_effects(
    effects: Sequence[FiredEffect], ruleset_ids: Mapping[int, int | None]
) -> JsonText:
    """``rendered_effects``, written as JSON text (``integration.render.effect_json``)."""
    return effects_json(
        [
            effect_json(
                campaign_id=fired.rule.ruleset,
                ruleset_id=ruleset_ids.get(fired.rule.ruleset) or 0,
                rule_index=fired.rule.rule_index,
                rule_name=fired.rule.title,
                effect=fired.effect,
            )
            for fired in effects
        ]
    )


def rendered_failures(
    failures: Sequence[RuleFailure],
    *,
    campaign_names: Mapping[int, str],
    ruleset_ids: Mapping[int, int | None],
    set_aside: Sequence[tuple[RuleRef, Exclusion]] = (),
) -> list[dict[str, Any]]:
    """``ruleFailureReasons``: why each rule that did not fire did not, then each rule that
    fired in a campaign its evaluation group set aside (with the group and its mode)."""
    excluded = [
        render_rule_failure(
            campaign_id=rule.ruleset,
            campaign_name=campaign_names.get(rule.ruleset, ""),
            ruleset_id=ruleset_ids.get(rule.ruleset) or 0,
            rule_index=rule.rule_index,
            rule_name=rule.title,
            details=(
                f"{exclusion.reason}: the campaign's evaluation group "
                f"({exclusion.mode}) set its effects aside"
            ),
            evaluation_group_id=exclusion.group_id,
            evaluation_group_mode=exclusion.mode,
        )
        for rule, exclusion in set_aside
    ]
    return [
        render_rule_failure(
            campaign_id=failure.rule.ruleset,
            campaign_name=campaign_names.get(failure.rule.ruleset, ""),
            ruleset_id=ruleset_ids.get(failure.rule.ruleset) or 0,
            rule_index=failure.rule.rule_index,
            rule_name=failure.rule.title,
            effect_index=failure.effect_index,
            details=failure.error.message if failure.error else None,
        )
        for failure in failures
    ] + excluded


Types = Mapping[str, Mapping[str, Type]]
"""The application's custom attribute types by entity (``AttributeSchema.types``)."""


def coupon_view(coupon: Coupon) -> CouponView:
    return CouponView(
        id=coupon.pk,
        created=coupon.created,
        campaign_id=coupon.campaign_id,
        value=coupon.value,
        usage_limit=coupon.usage_limit,
        usage_counter=coupon.usage_counter,
        discount_limit=coupon.discount_limit,
        reservation_limit=coupon.reservation_limit,
        start_date=coupon.start_date,
        expiry_date=coupon.expiry_date,
        discount_counter=coupon.discount_counter,
        discount_remainder=(
            coupon.discount_limit - coupon.discount_counter if coupon.discount_limit else None
        ),
        attributes=coupon.attributes,
        recipient_integration_id=coupon.recipient_integration_id or None,
        batch_id=coupon.batch_id or None,
    )


def referral_view(referral: Referral, *, types: Types) -> ReferralView:
    """The referral as Talon.One shows it; its attributes read back as their types."""
    return ReferralView(
        id=referral.pk,
        created=referral.created,
        campaign_id=referral.campaign_id,
        advocate_profile_integration_id=referral.advocate_profile_integration_id,
        code=referral.code,
        usage_counter=referral.usage_counter,
        usage_limit=referral.usage_limit,
        start_date=referral.start_date,
        expiry_date=referral.expiry_date,
        friend_profile_integration_id=referral.friend_profile_integration_id or None,
        attributes=typed_attributes(referral.attributes, types.get("Referral", {})),
        batch_id=referral.batch_id or None,
    )


def session_view(session: CustomerSession, items: list[CartItem], *, types: Types) -> SessionView:
    """The session as rendered; custom attributes (stored as JSON, decimals and times as text)
    in the types their definitions give them, so that a number goes back as a number."""
    item_types = types.get("CartItem", {})
    return SessionView(
        id=session.pk,
        integration_id=session.integration_id,
        created=session.created,
        application_id=session.application_id,
        profile_id=session.profile.integration_id if session.profile else "",
        state=session.state,
        updated=session.updated,
        first_session=session.first_session,
        update_count=session.update_count,
        total=session.total,
        cart_item_total=session.cart_item_total,
        additional_cost_total=session.additional_cost_total,
        cart_item_additional_cost_total=session.cart_item_additional_cost_total,
        store_integration_id=session.store_integration_id,
        coupon_codes=session.coupon_codes,
        referral_code=session.referral_code,
        loyalty_cards=session.loyalty_cards,
        cart_items=[
            CartItemView(
                position=item.position,
                sku=item.sku,
                quantity=item.quantity,
                price=item.price,
                name=item.name,
                category=item.category,
                product_name=item.product_name,
                weight=item.weight,
                height=item.height,
                width=item.width,
                length=item.length,
                returned_quantity=item.returned_quantity,
                remaining_quantity=item.remaining_quantity,
                # Most items have neither: no call for them (ten items make a cart).
                attributes=typed_attributes(item.attributes, item_types) if item.attributes else {},
                additional_costs=_prices(item.additional_costs) if item.additional_costs else {},
            )
            for item in items
        ],
        identifiers=session.identifiers,
        attributes=typed_attributes(session.attributes, types.get("CustomerSession", {})),
        additional_costs=_prices(session.additional_costs),
    )


def _prices(costs: Mapping[str, Any]) -> dict[str, Decimal]:
    """Stored additional costs (``{name: {"price": "9.00"}}``) as name → price."""
    return {
        name: Decimal(str(cost["price"] if isinstance(cost, Mapping) else cost))
        for name, cost in costs.items()
    }


def profile_view(profile: CustomerProfile | None, *, types: Types) -> ProfileView | None:
    if profile is None:
        return None
    return ProfileView(
        id=profile.pk,
        integration_id=profile.integration_id,
        created=profile.created,
        account_id=profile.application_id,
        closed_sessions=profile.closed_sessions,
        total_sales=profile.total_sales,
        last_activity=profile.last_activity,
        attributes=typed_attributes(profile.attributes, types.get("CustomerProfile", {})),
    )


__all__ = ["CustomerSessionView", "SessionOutcome"]
