"""URLs of the Management API, included at the root: each pattern carries its own ``v1/``
prefix, as in Talon.One's API.
"""

from django.urls import URLPattern, URLResolver, path

from management.access_logs import AccessLogsNoTotalView, ApplicationApiHealthView
from management.activity import CustomerActivityReportsNoTotalView, CustomerActivityReportView
from management.applications import ApplicationsView, ApplicationView
from management.attributes import AttributesView, AttributeView
from management.campaign_analytics import CampaignAnalyticsView
from management.campaigns import (
    CampaignCopyView,
    CampaignSearchView,
    CampaignsView,
    CampaignView,
    RulesetsView,
    RulesetView,
)
from management.coupons import (
    ApplicationCouponsSearchView,
    CouponBatchView,
    CouponsAsyncView,
    CouponsNoTotalView,
    CouponsSearchView,
    CouponsView,
    CouponsWithRecipientsView,
    CouponView,
    ExportCouponsView,
    ImportCouponsView,
)
from management.customers import (
    ApplicationCustomerSearchView,
    ApplicationCustomersView,
    ApplicationCustomerView,
    ApplicationEventsNoTotalView,
    ApplicationSessionsView,
    ApplicationSessionView,
)
from management.exports import ExportCustomerSessionsView, ExportEffectsView, ExportsView
from management.referrals import (
    ExportReferralsView,
    ImportReferralsView,
    ReferralsNoTotalView,
    ReferralView,
)
from management.sessions import SessionsView
from management.webhooks import MessageLogsView, WebhooksView, WebhookView

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
        "v1/applications/<int:application_id>/campaigns/<int:campaign_id>/copy",
        CampaignCopyView.as_view(),
        name="campaign-copy",
    ),
    path(
        "v1/applications/<int:application_id>/campaigns/<int:campaign_id>/analytics",
        CampaignAnalyticsView.as_view(),
        name="campaign-analytics",
    ),
    path(
        "v1/applications/<int:application_id>/campaigns_search",
        CampaignSearchView.as_view(),
        name="campaigns-search",
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
    path(
        "v1/applications/<int:application_id>/campaigns/<int:campaign_id>/coupons_with_recipients",
        CouponsWithRecipientsView.as_view(),
        name="coupons-with-recipients",
    ),
    path(
        "v1/applications/<int:application_id>/campaigns/<int:campaign_id>/"
        "coupons_search_advanced/no_total",
        CouponsSearchView.as_view(),
        name="coupons-search-advanced",
    ),
    path(
        "v1/applications/<int:application_id>/coupons_search_advanced/no_total",
        ApplicationCouponsSearchView.as_view(),
        name="application-coupons-search-advanced",
    ),
    # Referrals
    path(
        "v1/applications/<int:application_id>/campaigns/<int:campaign_id>/referrals/no_total",
        ReferralsNoTotalView.as_view(),
        name="referrals-no-total",
    ),
    path(
        "v1/applications/<int:application_id>/campaigns/<int:campaign_id>/referrals/"
        "<int:referral_id>",
        ReferralView.as_view(),
        name="referral",
    ),
    path(
        "v1/applications/<int:application_id>/campaigns/<int:campaign_id>/import_referrals",
        ImportReferralsView.as_view(),
        name="import-referrals",
    ),
    path(
        "v1/applications/<int:application_id>/export_referrals",
        ExportReferralsView.as_view(),
        name="export-referrals",
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
    # Customers, activity reports, access logs and exports (logs)
    path(
        "v1/applications/<int:application_id>/customers",
        ApplicationCustomersView.as_view(),
        name="application-customers",
    ),
    path(
        "v1/applications/<int:application_id>/customer_search",
        ApplicationCustomerSearchView.as_view(),
        name="application-customer-search",
    ),
    path(
        "v1/applications/<int:application_id>/customer_activity_reports/no_total",
        CustomerActivityReportsNoTotalView.as_view(),
        name="customer-activity-reports-no-total",
    ),
    path(
        "v1/applications/<int:application_id>/customer_activity_reports/<int:customer_id>",
        CustomerActivityReportView.as_view(),
        name="customer-activity-report",
    ),
    path(
        "v1/applications/<int:application_id>/access_logs/no_total",
        AccessLogsNoTotalView.as_view(),
        name="access-logs-no-total",
    ),
    path(
        "v1/applications/<int:application_id>/health_report",
        ApplicationApiHealthView.as_view(),
        name="application-health-report",
    ),
    path("v1/exports", ExportsView.as_view(), name="exports"),
    # Webhooks and their message logs
    path("v1/webhooks", WebhooksView.as_view(), name="webhooks"),
    path("v1/webhooks/<int:webhook_id>", WebhookView.as_view(), name="webhook"),
    path("v1/message_logs", MessageLogsView.as_view(), name="message-logs"),
    path(
        "v1/applications/<int:application_id>/export_effects",
        ExportEffectsView.as_view(),
        name="export-effects",
    ),
    path(
        "v1/applications/<int:application_id>/export_customer_sessions",
        ExportCustomerSessionsView.as_view(),
        name="export-customer-sessions",
    ),
]
