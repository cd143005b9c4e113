r"""The domain's models, one module per aggregate.

- ``applications``: ``Application`` and its credentials, ``IntegrationApiKey`` and
  ``SigningSecret``;
- ``campaigns``: ``EvaluationGroup``, ``Campaign`` and its versioned ``Ruleset``;
- ``attributes``: ``AttributeDefinition`` (custom attributes, the attribute catalogue's input);
- ``coupons``: ``Coupon`` and ``CouponRedemption`` (one use of a coupon by a session);
- ``customers``: ``CustomerProfile``, ``CustomerSession`` with its ``CartItem``, ``Event``;
- ``effects``: ``EffectRecord``, the log of every effect produced;
- ``idempotency``: ``IdempotentRequest``, the stored answers of requests sent with an
  ``Idempotency-Key``.

Import models from here (``from campaigns.models import Campaign``).
"""

from campaigns.models.applications import Application, IntegrationApiKey, SigningSecret
from campaigns.models.attributes import AttributeDefinition
from campaigns.models.campaigns import Campaign, EvaluationGroup, Ruleset
from campaigns.models.coupons import Coupon, CouponRedemption
from campaigns.models.customers import CartItem, CustomerProfile, CustomerSession, Event
from campaigns.models.effects import EffectRecord
from campaigns.models.idempotency import IdempotentRequest

__all__ = [
    "Application",
    "AttributeDefinition",
    "Campaign",
    "CartItem",
    "Coupon",
    "CouponRedemption",
    "CustomerProfile",
    "CustomerSession",
    "EffectRecord",
    "EvaluationGroup",
    "Event",
    "IdempotentRequest",
    "IntegrationApiKey",
    "Ruleset",
    "SigningSecret",
]
