"""The Integration API: the shop-facing endpoints (``/v1/…``, ``/v2/…``) in Talon.One's wire
format, with their authentication classes, serializers and thin views.
"""
