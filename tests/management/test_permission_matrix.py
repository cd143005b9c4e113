"""The permission matrix of the whole Management API: every endpoint, every kind of caller,
on the caller's own application, on another tenant's, and with ids that mix the two.

Given two applications with the same objects in each (a campaign with a ruleset, a coupon, a
batch, a referral, a customer with a session, a custom attribute), and callers of every kind
(an admin, an editor and a viewer of the first application, a user of no application, a
superuser, a management key allowed everything on the first application and one allowed
nothing), when each calls each endpoint about each application, then:

- on their own application, a role at or above the endpoint's least role gets the endpoint's
  success status, a lower role 403, and a user of no application 404;
- on another tenant's application, and with ids of their own application mixed with another
  tenant's (a campaign of theirs under our application id), everyone but the superuser gets
  404, exactly as for an id that names nothing;
- a management key may do what its allowed endpoints name, and gets 403 for the others;
- without credentials, every endpoint answers 401.

``ENDPOINTS`` lists every operation of ``management.urls``: an operation added without a row
here fails ``test_every_endpoint_is_in_the_matrix``. Each call runs in a savepoint rolled back
afterwards, so a DELETE by one caller leaves the objects for the next.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.utils.encoders import JSONEncoder

from campaigns.models import Application, AttributeDefinition, Campaign, CouponBatch, Webhook
from management.models import Role
from management.services import role_allows
from tests.factories import (
    ApplicationFactory,
    AttributeDefinitionFactory,
    CampaignFactory,
    CouponFactory,
    CustomerProfileFactory,
    CustomerSessionFactory,
    ReferralFactory,
    RulesetFactory,
    UserFactory,
)
from tests.management.factories import (
    ManagementKeyFactory,
    ManagementTokenFactory,
    MembershipFactory,
    bearer,
    key_auth,
)

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------------------------
# The objects of one application


@dataclass(frozen=True)
class Objects:
    """One application and one object of each kind in it: what the URLs and bodies name."""

    application: Application
    campaign: Campaign
    ruleset_id: int
    coupon_id: int
    batch_id: str
    referral_id: int
    customer_id: int
    session_id: int
    attribute: AttributeDefinition
    webhook_id: int

    @property
    def ids(self) -> dict[str, Any]:
        return {
            "application": self.application.pk,
            "campaign": self.campaign.pk,
            "ruleset": self.ruleset_id,
            "coupon": self.coupon_id,
            "batch": self.batch_id,
            "referral": self.referral_id,
            "customer": self.customer_id,
            "session": self.session_id,
            "attribute": self.attribute.pk,
            "webhook": self.webhook_id,
        }


def objects_of(name: str) -> Objects:
    application = ApplicationFactory(name=name)
    campaign = CampaignFactory(application=application, name=f"{name} campaign")
    ruleset = RulesetFactory(campaign=campaign)
    campaign.active_ruleset = ruleset
    campaign.save(update_fields=["active_ruleset"])
    coupon = CouponFactory(campaign=campaign, value=f"{name.upper()}-CODE")
    batch = CouponBatch.objects.create(
        application=application, campaign=campaign, batch_id=f"{name.lower()}batch", requested=1
    )
    customer = CustomerProfileFactory(application=application)
    session = CustomerSessionFactory(application=application, profile=customer)
    referral = ReferralFactory(campaign=campaign, advocate_profile_integration_id="advocate")
    attribute = AttributeDefinitionFactory(
        application=application, entity="CustomerSession", name=f"{name}Color", type="string"
    )
    webhook = Webhook.objects.create(
        title=f"{name} hook", url="https://hooks.example.com/", signing_secret="s" * 32
    )
    webhook.applications.set([application])
    return Objects(
        application=application,
        campaign=campaign,
        ruleset_id=ruleset.pk,
        coupon_id=coupon.pk,
        batch_id=batch.batch_id,
        referral_id=referral.pk,
        customer_id=customer.pk,
        session_id=session.pk,
        attribute=attribute,
        webhook_id=webhook.pk,
    )


# ---------------------------------------------------------------------------------------------
# The endpoints

SEVEN_OFF = {"title": "7 off", "condition": ["and", True], "effects": [["setDiscount", "7 off", 7]]}


def csv_upload(text: str) -> dict[str, Any]:
    return {"upFile": SimpleUploadedFile("upload.csv", text.encode(), content_type="text/csv")}


@dataclass(frozen=True)
class Endpoint:
    """One operation: its method and path (``{application}``, ``{campaign}``… name the
    objects' ids), the least role that may call it, a valid body, and its success status."""

    operation: str
    method: str
    path: str
    role: str
    body: Callable[[Objects], Any] | None = None
    ok: int = 200
    #: The body goes as a multipart form (a CSV upload) rather than JSON.
    form: bool = False
    #: The status for a role below ``role``: 403, or 400 where the application is named in
    #: the body rather than the path (``createAttribute``).
    refused: int = 403
    #: The role is checked on applications the body names (after the path's objects are
    #: found), not on the path's application.
    role_in_body: bool = False
    #: Which other kinds of ids the path names, besides the application's.
    nested: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        return f"{self.method} {self.operation}"

    def url(self, ids: dict[str, Any]) -> str:
        return self.path.format(**ids)


APP = "/v1/applications/{application}"
CAMPAIGN = APP + "/campaigns/{campaign}"

ENDPOINTS = [
    Endpoint("getApplication", "GET", APP, Role.VIEWER),
    Endpoint(
        "updateApplication",
        "PUT",
        APP,
        Role.ADMIN,
        body=lambda o: {"description": "Changed"},
    ),
    Endpoint("getCampaigns", "GET", APP + "/campaigns", Role.VIEWER),
    Endpoint(
        "getCampaignByAttributes",
        "POST",
        APP + "/campaigns_search",
        Role.VIEWER,
        body=lambda o: {"attributes": {}},
    ),
    Endpoint(
        "copyCampaignToApplications",
        "POST",
        CAMPAIGN + "/copy",
        Role.EDITOR,
        body=lambda o: {"applicationIds": [o.application.pk]},
        role_in_body=True,
        nested=("campaign",),
    ),
    Endpoint(
        "getCampaignAnalytics",
        "GET",
        CAMPAIGN + "/analytics?rangeStart=2026-03-01T00:00:00Z&rangeEnd=2026-03-04T00:00:00Z",
        Role.VIEWER,
        nested=("campaign",),
    ),
    Endpoint(
        "createCampaign",
        "POST",
        APP + "/campaigns",
        Role.EDITOR,
        body=lambda o: {"name": "New", "state": "disabled"},
        ok=201,
    ),
    Endpoint("getCampaign", "GET", CAMPAIGN, Role.VIEWER, nested=("campaign",)),
    Endpoint(
        "updateCampaign",
        "PUT",
        CAMPAIGN,
        Role.EDITOR,
        body=lambda o: {"name": "Renamed"},
        nested=("campaign",),
    ),
    Endpoint("deleteCampaign", "DELETE", CAMPAIGN, Role.ADMIN, ok=204, nested=("campaign",)),
    Endpoint("getRulesets", "GET", CAMPAIGN + "/rulesets", Role.VIEWER, nested=("campaign",)),
    Endpoint(
        "createRuleset",
        "POST",
        CAMPAIGN + "/rulesets",
        Role.EDITOR,
        body=lambda o: {"rules": [SEVEN_OFF]},
        ok=201,
        nested=("campaign",),
    ),
    Endpoint(
        "getRuleset",
        "GET",
        CAMPAIGN + "/rulesets/{ruleset}",
        Role.VIEWER,
        nested=("campaign", "ruleset"),
    ),
    Endpoint(
        "createCoupons",
        "POST",
        CAMPAIGN + "/coupons",
        Role.EDITOR,
        body=lambda o: {"numberOfCoupons": 2, "usageLimit": 1},
        ok=204,  # silent by default
        nested=("campaign",),
    ),
    Endpoint(
        "createCouponsAsync",
        "POST",
        CAMPAIGN + "/coupons_async",
        Role.EDITOR,
        body=lambda o: {"numberOfCoupons": 2, "usageLimit": 1, "attributes": {}},
        nested=("campaign",),
    ),
    Endpoint(
        "getCouponsWithoutTotalCount",
        "GET",
        CAMPAIGN + "/coupons/no_total",
        Role.VIEWER,
        nested=("campaign",),
    ),
    Endpoint(
        "updateCoupon",
        "PUT",
        CAMPAIGN + "/coupons/{coupon}",
        Role.EDITOR,
        body=lambda o: {"usageLimit": 5},
        nested=("campaign", "coupon"),
    ),
    Endpoint(
        "deleteCoupon",
        "DELETE",
        CAMPAIGN + "/coupons/{coupon}",
        Role.EDITOR,
        ok=204,
        nested=("campaign", "coupon"),
    ),
    Endpoint(
        "importCoupons",
        "POST",
        CAMPAIGN + "/import_coupons",
        Role.EDITOR,
        body=lambda o: csv_upload("value\nIMPORTED-1\n"),
        form=True,
        nested=("campaign",),
    ),
    Endpoint(
        "createCouponsForMultipleRecipients",
        "POST",
        CAMPAIGN + "/coupons_with_recipients",
        Role.EDITOR,
        body=lambda o: {"recipientsIntegrationIds": ["ann", "bob"], "usageLimit": 1},
        ok=204,  # silent by default
        nested=("campaign",),
    ),
    Endpoint(
        "searchCouponsAdvancedWithoutTotalCount",
        "POST",
        CAMPAIGN + "/coupons_search_advanced/no_total",
        Role.VIEWER,
        body=lambda o: {},
        nested=("campaign",),
    ),
    Endpoint(
        "searchCouponsAdvancedApplicationWideWithoutTotalCount",
        "POST",
        APP + "/coupons_search_advanced/no_total",
        Role.VIEWER,
        body=lambda o: {},
    ),
    Endpoint(
        "updateCouponBatch",
        "PUT",
        CAMPAIGN + "/coupons",
        Role.EDITOR,
        body=lambda o: {"usageLimit": 5},
        ok=204,
        nested=("campaign",),
    ),
    Endpoint(
        "deleteCoupons", "DELETE", CAMPAIGN + "/coupons", Role.EDITOR, ok=204, nested=("campaign",)
    ),
    Endpoint("exportCoupons", "GET", APP + "/export_coupons", Role.VIEWER),
    Endpoint(
        "getReferralsWithoutTotalCount",
        "GET",
        CAMPAIGN + "/referrals/no_total",
        Role.VIEWER,
        nested=("campaign",),
    ),
    Endpoint(
        "updateReferral",
        "PUT",
        CAMPAIGN + "/referrals/{referral}",
        Role.EDITOR,
        body=lambda o: {"usageLimit": 9},
        nested=("campaign", "referral"),
    ),
    Endpoint(
        "deleteReferral",
        "DELETE",
        CAMPAIGN + "/referrals/{referral}",
        Role.EDITOR,
        ok=204,
        nested=("campaign", "referral"),
    ),
    Endpoint(
        "importReferrals",
        "POST",
        CAMPAIGN + "/import_referrals",
        Role.EDITOR,
        body=lambda o: csv_upload("code,advocateprofileintegrationid\nNEW-CODE,ann\n"),
        form=True,
        nested=("campaign",),
    ),
    Endpoint("exportReferrals", "GET", APP + "/export_referrals", Role.VIEWER),
    Endpoint(
        "getCouponBatch",
        "GET",
        APP + "/coupon_batches/{batch}",
        Role.VIEWER,
        nested=("batch",),
    ),
    Endpoint(
        "getApplicationCustomer",
        "GET",
        APP + "/customers/{customer}",
        Role.VIEWER,
        nested=("customer",),
    ),
    Endpoint("getApplicationSessions", "GET", APP + "/sessions", Role.VIEWER),
    Endpoint(
        "getApplicationSession",
        "GET",
        APP + "/sessions/{session}",
        Role.VIEWER,
        nested=("session",),
    ),
    Endpoint("getApplicationEventsWithoutTotalCount", "GET", APP + "/events/no_total", Role.VIEWER),
    Endpoint(
        "getAttribute",
        "GET",
        "/v1/attributes/{attribute}",
        Role.VIEWER,
        nested=("attribute",),
    ),
    Endpoint(
        "updateAttribute",
        "PUT",
        "/v1/attributes/{attribute}",
        Role.EDITOR,
        body=lambda o: {
            "entity": o.attribute.entity,
            "name": o.attribute.name,
            "title": "Colour",
            "type": o.attribute.type,
            "description": "Renamed",
            "editable": True,
            "applicationIds": [o.application.pk],
        },
        nested=("attribute",),
    ),
    Endpoint(
        "createAttribute",
        "POST",
        "/v1/attributes",
        Role.EDITOR,
        body=lambda o: {
            "entity": "CustomerProfile",
            "name": "Tier",
            "title": "Tier",
            "type": "string",
            "description": "",
            "editable": True,
            "applicationIds": [o.application.pk],
        },
        ok=201,
        refused=400,
    ),
    # Customers, activity reports, access logs and exports (logs)
    Endpoint("getApplicationCustomers", "GET", APP + "/customers", Role.VIEWER),
    Endpoint(
        "getApplicationCustomersByAttributes",
        "POST",
        APP + "/customer_search",
        Role.VIEWER,
        body=lambda o: {"attributes": {}},
    ),
    Endpoint(
        "getCustomerActivityReport",
        "GET",
        APP + "/customer_activity_reports/{customer}?rangeStart=2026-03-01&rangeEnd=2026-03-04",
        Role.VIEWER,
        nested=("customer",),
    ),
    Endpoint(
        "getCustomerActivityReportsWithoutTotalCount",
        "GET",
        APP + "/customer_activity_reports/no_total?rangeStart=2026-03-01&rangeEnd=2026-03-04",
        Role.VIEWER,
    ),
    Endpoint(
        "getAccessLogsWithoutTotalCount",
        "GET",
        APP + "/access_logs/no_total?rangeStart=2026-03-01&rangeEnd=2026-03-04",
        Role.VIEWER,
    ),
    Endpoint("getApplicationApiHealth", "GET", APP + "/health_report", Role.VIEWER),
    Endpoint("exportEffects", "GET", APP + "/export_effects", Role.VIEWER),
    # Webhooks: their role is needed in every application they serve
    Endpoint("getWebhook", "GET", "/v1/webhooks/{webhook}", Role.VIEWER, nested=("webhook",)),
    Endpoint(
        "updateWebhook",
        "PUT",
        "/v1/webhooks/{webhook}",
        Role.ADMIN,
        body=lambda o: {
            "applicationIds": [o.application.pk],
            "title": "Renamed hook",
            "verb": "POST",
            "url": "https://hooks.example.com/renamed",
        },
        nested=("webhook",),
    ),
    Endpoint(
        "deleteWebhook", "DELETE", "/v1/webhooks/{webhook}", Role.ADMIN, ok=204, nested=("webhook",)
    ),
    Endpoint(
        "createWebhook",
        "POST",
        "/v1/webhooks",
        Role.ADMIN,
        body=lambda o: {
            "applicationIds": [o.application.pk],
            "title": "New hook",
            "verb": "POST",
            "url": "https://hooks.example.com/new",
        },
        ok=201,
        refused=400,
    ),
    Endpoint("exportCustomerSessions", "GET", APP + "/export_customer_sessions", Role.VIEWER),
]

#: Operations about no one application: what they answer is filtered by the caller, which the
#: endpoints' own tests check; here, only that each lets every kind of caller in.
UNSCOPED = {
    "getApplications": "/v1/applications",
    "getAttributes": "/v1/attributes",
    "getExports": "/v1/exports",
    "getWebhooks": "/v1/webhooks",
    "getMessageLogs": "/v1/message_logs?entityType=webhook",
}

#: Operations of the account, not of an application: only a superuser may call them.
ACCOUNT = {"createApplication": ("POST", "/v1/applications", {"name": "New", "currency": "EUR"})}

#: The login and logout, which are about the caller's own credentials (test_sessions.py).
OWN_CREDENTIALS = {"createSession", "destroySession"}


# ---------------------------------------------------------------------------------------------
# The callers

ROLES = [Role.ADMIN, Role.EDITOR, Role.VIEWER]
CALLERS = [*ROLES, "none", "superuser", "key", "key-allowed-nothing"]


@dataclass(frozen=True)
class World:
    own: Objects
    other: Objects
    headers: dict[str, dict[str, str]]


@pytest.fixture
def world() -> World:
    own, other = objects_of("Own"), objects_of("Other")
    MembershipFactory(application=other.application, role=Role.ADMIN)
    headers: dict[str, dict[str, str]] = {}
    for role in ROLES:
        token = ManagementTokenFactory(raw_token=f"token-{role}")
        MembershipFactory(user=token.user, application=own.application, role=role)
        headers[role] = bearer(f"token-{role}")
    ManagementTokenFactory(raw_token="token-none")
    headers["none"] = bearer("token-none")
    ManagementTokenFactory(raw_token="token-superuser", user=UserFactory(is_superuser=True))
    headers["superuser"] = bearer("token-superuser")
    every_operation = [endpoint.operation for endpoint in ENDPOINTS] + list(UNSCOPED)
    ManagementKeyFactory(
        raw_key="k" * 64, allowed_endpoints=every_operation, applications=[own.application]
    )
    headers["key"] = key_auth("k" * 64)
    ManagementKeyFactory(raw_key="n" * 64, allowed_endpoints=[], applications=[own.application])
    headers["key-allowed-nothing"] = key_auth("n" * 64)
    return World(own=own, other=other, headers=headers)


def expected_status(endpoint: Endpoint, caller: str, target: str) -> int:
    """What ``caller`` gets from ``endpoint`` on ``target``: ``own``, ``other`` (another
    tenant's application and objects) or ``mixed`` (our application id, their objects)."""
    if caller == "key-allowed-nothing":
        return 403  # refused before any object is looked at
    sees = caller == "superuser" or (target != "other" and caller != "none")
    if not sees:
        return endpoint.refused if endpoint.refused == 400 else 404
    if target == "mixed" and endpoint.role_in_body:
        return 404
    if caller in ROLES and not role_allows(caller, endpoint.role):
        # Refused on the application, whatever the other ids name: nothing is learnt.
        return endpoint.refused
    return 404 if target == "mixed" else endpoint.ok


def ids_for(world: World, target: str, endpoint: Endpoint) -> dict[str, Any]:
    if target == "own":
        return world.own.ids
    if target == "other":
        return world.other.ids
    # Our application's id with another tenant's objects under it.
    return {**world.own.ids, **{name: world.other.ids[name] for name in endpoint.nested}}


def body_objects(world: World, target: str) -> Objects:
    return world.own if target == "own" else world.other


def call(client: Client, endpoint: Endpoint, url: str, body: Any, headers: dict[str, str]) -> Any:
    if endpoint.form:
        return client.post(url, body, headers=headers)
    if body is None:
        return client.generic(endpoint.method, url, headers=headers)
    return client.generic(
        endpoint.method,
        url,
        data=_json(body),
        content_type="application/json",
        headers=headers,
    )


def _json(body: Any) -> str:
    return json.dumps(body, cls=JSONEncoder)


@contextmanager
def rolled_back() -> Iterator[None]:
    """Runs the block in a savepoint that is rolled back afterwards."""

    class _RollBack(Exception):
        pass

    try:
        with transaction.atomic():
            yield
            raise _RollBack
    except _RollBack:
        pass


def targets_of(endpoint: Endpoint) -> list[str]:
    mixable = endpoint.nested and "{application}" in endpoint.path
    return ["own", "other", "mixed"] if mixable else ["own", "other"]


# ---------------------------------------------------------------------------------------------
# The tests


def management_operations() -> set[str]:
    """Every operationId that ``management.urls`` serves."""
    operations: set[str] = set()

    def walk(patterns: list[URLPattern | URLResolver]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
                continue
            view_class = getattr(pattern.callback, "view_class", None)
            operation = getattr(view_class, "operation", None)
            if isinstance(operation, str):
                operations.add(operation)
            elif operation is not None:
                operations.update(operation.values())

    walk(get_resolver("management.urls").url_patterns)
    return operations


def test_every_endpoint_is_in_the_matrix() -> None:
    listed = {endpoint.operation for endpoint in ENDPOINTS}
    assert management_operations() == listed | set(UNSCOPED) | set(ACCOUNT) | OWN_CREDENTIALS


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.id)
def test_each_caller_on_each_tenant(client: Client, world: World, endpoint: Endpoint) -> None:
    outcomes: dict[tuple[str, str], tuple[int, int]] = {}
    for caller in CALLERS:
        for target in targets_of(endpoint):
            ids = ids_for(world, target, endpoint)
            body = endpoint.body(body_objects(world, target)) if endpoint.body else None
            with rolled_back():
                response = call(client, endpoint, endpoint.url(ids), body, world.headers[caller])
            expected = expected_status(endpoint, caller, target)
            if response.status_code != expected:
                outcomes[caller, target] = (response.status_code, expected)
            elif expected >= 400:
                # Every refusal is in Talon.One's error shape.
                assert response.json()["StatusCode"] == expected, response.content
    assert outcomes == {}, "(caller, target): (status, expected)"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.id)
def test_without_credentials_every_endpoint_is_401(
    client: Client, world: World, endpoint: Endpoint
) -> None:
    body = endpoint.body(world.own) if endpoint.body else None

    response = call(client, endpoint, endpoint.url(world.own.ids), body, {})

    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "missing_credentials"


@pytest.mark.parametrize("path", UNSCOPED.values())
@pytest.mark.parametrize("caller", [c for c in CALLERS if c != "key-allowed-nothing"])
def test_lists_about_no_application_let_every_caller_in(
    client: Client, world: World, path: str, caller: str
) -> None:
    response = client.get(path, headers=world.headers[caller])

    assert response.status_code == 200
    shown = response.json()["data"]
    # A list shows another tenant's objects to the superuser only.
    other_ids = {world.other.application.pk, world.other.attribute.pk}
    if path == "/v1/webhooks":
        other_ids = {world.other.webhook_id}
    if caller != "superuser":
        assert not {row["id"] for row in shown} & other_ids or path == "/v1/attributes"


@pytest.mark.parametrize("operation", ACCOUNT)
@pytest.mark.parametrize("caller", CALLERS)
def test_account_operations_are_for_superusers(
    client: Client, world: World, operation: str, caller: str
) -> None:
    method, path, body = ACCOUNT[operation]

    response = client.generic(
        method,
        path,
        data=_json(body),
        content_type="application/json",
        headers=world.headers[caller],
    )

    assert response.status_code == (201 if caller == "superuser" else 403), response.content
