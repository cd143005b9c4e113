"""URLs of the Management API, included at the root: each pattern carries its own ``v1/``
prefix, as in Talon.One's API.
"""

from django.urls import URLPattern, URLResolver, path

from management.applications import ApplicationsView, ApplicationView
from management.attributes import AttributesView, AttributeView
from management.campaigns import CampaignsView, CampaignView, RulesetsView, RulesetView
from management.coupons import (
    CouponBatchView,
    CouponsAsyncView,
    CouponsNoTotalView,
    CouponsView,
    CouponView,
    ExportCouponsView,
    ImportCouponsView,
)
from management.customers import (
    ApplicationCustomerView,
    ApplicationEventsNoTotalView,
    ApplicationSessionsView,
    ApplicationSessionView,
)
from management.sessions import SessionsView

app_name = "management"

urlpatterns: list[URLPattern | URLResolver] = [
    path("v1/sessions", SessionsView.as_view(), name="sessions"),
    path("v1/applications", ApplicationsView.as_view(), name="applications"),
    path("v1/applications/<int:application_id>", ApplicationView.as_view(), name="application"),
    # Campaigns
    path(
        "v1/applications/<int:application_id>/campaigns",
        CampaignsView.as_view(),
        name="campaigns",
    ),
    path(
        "v1/applications/<int:application_id>/campaigns/<int:campaign_id>",
        CampaignView.as_view(),
        name="campaign",
    ),
    path(
        "v1/applications/<int:application_id>/campaigns/<int:campaign_id>/rulesets",
        RulesetsView.as_view(),
        name="rulesets",
    ),
    path(
        "v1/applications/<int:application_id>/campaigns/<int:campaign_id>/rulesets/"
        "<int:ruleset_id>",
        RulesetView.as_view(),
        name="ruleset",
    ),
    # Coupons
    path(
        "v1/applications/<int:application_id>/campaigns/<int:campaign_id>/coupons",
        CouponsView.as_view(),
        name="coupons",
    ),
    path(
        "v1/applications/<int:application_id>/campaigns/<int:campaign_id>/coupons_async",
        CouponsAsyncView.as_view(),
        name="coupons-async",
    ),
    path(
        "v1/applications/<int:application_id>/campaigns/<int:campaign_id>/coupons/no_total",
        CouponsNoTotalView.as_view(),
        name="coupons-no-total",
    ),
    path(
        "v1/applications/<int:application_id>/campaigns/<int:campaign_id>/coupons/<int:coupon_id>",
        CouponView.as_view(),
        name="coupon",
    ),
    path(
        "v1/applications/<int:application_id>/campaigns/<int:campaign_id>/import_coupons",
        ImportCouponsView.as_view(),
        name="import-coupons",
    ),
    path(
        "v1/applications/<int:application_id>/export_coupons",
        ExportCouponsView.as_view(),
        name="export-coupons",
    ),
    path(
        "v1/applications/<int:application_id>/coupon_batches/<str:batch_id>",
        CouponBatchView.as_view(),
        name="coupon-batch",
    ),
    # Attributes
    path("v1/attributes", AttributesView.as_view(), name="attributes"),
    path("v1/attributes/<int:attribute_id>", AttributeView.as_view(), name="attribute"),
    # Customers, sessions and events
    path(
        "v1/applications/<int:application_id>/customers/<int:customer_id>",
        ApplicationCustomerView.as_view(),
        name="application-customer",
    ),
    path(
        "v1/applications/<int:application_id>/sessions",
        ApplicationSessionsView.as_view(),
        name="application-sessions",
    ),
    path(
        "v1/applications/<int:application_id>/sessions/<int:session_id>",
        ApplicationSessionView.as_view(),
        name="application-session",
    ),
    path(
        "v1/applications/<int:application_id>/events/no_total",
        ApplicationEventsNoTotalView.as_view(),
        name="application-events-no-total",
    ),
]
