r"""The domain's models, one module per aggregate.

- ``applications``: ``Application`` and its credentials, ``IntegrationApiKey`` and
  ``SigningSecret``;
- ``campaigns``: ``EvaluationGroup``, ``Campaign`` and its versioned ``Ruleset``;
- ``budgets``: ``CampaignLimit`` (a campaign's budgets), ``BudgetCounter`` and ``BudgetSpend``;
- ``attributes``: ``AttributeDefinition`` (custom attributes, the attribute catalogue's input);
- ``coupons``: ``Coupon``, ``CouponRedemption`` (one use of a coupon by a session) and
  ``CouponProfileCounter`` (one customer's uses of a coupon);
- ``coupon_reservations``: ``CouponReservation`` (a coupon held for a customer);
- ``coupon_batches``: ``CouponBatch`` (coupons generated or imported together, and progress);
- ``referrals``: ``Referral`` and ``ReferralRedemption`` (one use of a code by a friend's session);
- ``customers``: ``CustomerProfile``, ``CustomerSession`` with its ``CartItem``, ``Event``;
- ``effects``: ``EffectRecord``, the log of every effect produced;
- ``idempotency``: ``IdempotentRequest``, the stored answers of requests sent with an
  ``Idempotency-Key``;
- ``webhooks``: ``Webhook``, its ``WebhookDelivery`` outbox rows (one per ``triggerWebhook``
  effect) and each ``WebhookDeliveryAttempt``.

Import models from here (``from campaigns.models import Campaign``).
"""

from campaigns.models.applications import Application, IntegrationApiKey, SigningSecret
from campaigns.models.attributes import AttributeDefinition
from campaigns.models.budgets import BudgetCounter, BudgetSpend, CampaignLimit
from campaigns.models.campaigns import Campaign, EvaluationGroup, Ruleset
from campaigns.models.coupon_batches import CouponBatch
from campaigns.models.coupon_reservations import CouponReservation
from campaigns.models.coupons import Coupon, CouponProfileCounter, CouponRedemption
from campaigns.models.customers import CartItem, CustomerProfile, CustomerSession, Event
from campaigns.models.effects import EffectRecord
from campaigns.models.idempotency import IdempotentRequest
from campaigns.models.referrals import Referral, ReferralRedemption
from campaigns.models.webhooks import Webhook, WebhookDelivery, WebhookDeliveryAttempt

__all__ = [
    "Application",
    "AttributeDefinition",
    "BudgetCounter",
    "BudgetSpend",
    "Campaign",
    "CampaignLimit",
    "CartItem",
    "Coupon",
    "CouponBatch",
    "CouponProfileCounter",
    "CouponRedemption",
    "CouponReservation",
    "CustomerProfile",
    "CustomerSession",
    "EffectRecord",
    "EvaluationGroup",
    "Event",
    "IdempotentRequest",
    "IntegrationApiKey",
    "Referral",
    "ReferralRedemption",
    "Ruleset",
    "SigningSecret",
    "Webhook",
    "WebhookDelivery",
    "WebhookDeliveryAttempt",
]
