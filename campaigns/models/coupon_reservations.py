"""Coupon reservations: a coupon held for a customer profile.

Talon.One's reservations come in two kinds, decided by the coupon rather than by the
reservation: on a coupon whose reservation is mandatory (``Coupon.is_reservation_mandatory``) a
reservation is *hard*, and only the customers holding one may redeem it; on any other it is
*soft*, a coupon shown in the customer's wallet that anyone may still redeem.

A customer reserves a coupon at most once (a ``UniqueConstraint``); the coupon counts its
reservations in ``Coupon.reservation_counter``, which the database keeps within
``Coupon.reservation_limit``. Both go with the coupon; a reservation goes with its customer too.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from campaigns.models.coupons import Coupon
from campaigns.models.customers import CustomerProfile


class CouponReservation(models.Model):
    """A coupon reserved for one customer profile of the coupon's application."""

    coupon = models.ForeignKey(Coupon, on_delete=models.CASCADE, related_name="reservations")
    profile = models.ForeignKey(
        CustomerProfile, on_delete=models.CASCADE, related_name="coupon_reservations"
    )
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("coupon_id", "created", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["coupon", "profile"], name="couponreservation_unique_per_profile"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coupon} for {self.profile_id}"
