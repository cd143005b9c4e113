"""Contract tests: Schemathesis drives both APIs from their OpenAPI schemas.

Every operation of ``/openapi/integration.json`` and ``/openapi/management.json`` is exercised
(operations added later are picked up from the schema), in-process through Django's WSGI
application, on the test database, authenticated for real: an application's API key for the
Integration API and a superuser's bearer token for the Management API. Each answer must not be
a server error, and its status code, content type, headers and body must be those the schema
documents.

Seeded objects (an application, a campaign with a ruleset, a coupon, a referral, a customer
with a closed session, an attribute…) give most generated requests real ids to reach: a path
parameter is replaced by a seeded object's id in most cases, and left as generated in the
others (which then exercise the 404s). Each request runs in a savepoint that is rolled back, so
that one request's writes (``deleteCampaign``, ``DELETE /v1/sessions``, which would revoke the
run's token) cannot take the seeded objects away from the next.

The run is deterministic (a fixed seed) and bounded (``MAX_EXAMPLES`` per operation and phase).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from pytest_django import Settings
from rest_framework.exceptions import ValidationError
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from campaigns.models import Campaign, CustomerProfile, Webhook
from campaigns.models.customers import SessionState
from management.views import RFC3339Field
from tests.factories import (
    ApplicationFactory,
    AttributeDefinitionFactory,
    CampaignFactory,
    CartItemFactory,
    CouponFactory,
    CouponReservationFactory,
    CustomerProfileFactory,
    CustomerSessionFactory,
    EventFactory,
    ReferralFactory,
    UserFactory,
    api_key_headers,
)
from tests.management.factories import ManagementTokenFactory, bearer

#: Examples per operation in the fuzzing phase; the coverage phase adds its own.
MAX_EXAMPLES = 15

#: Out of ten requests, how many have their path parameters replaced by seeded ids.
SEEDED_IN_TEN = 8

CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {
        "seed": 20260701,
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            # The credentials are the run's own, not generated.
            "with-security-parameters": False,
        },
        "phases": {
            "examples": {"enabled": False},
            "stateful": {"enabled": False},
        },
    }
)


@dataclass
class Seeded:
    """The objects the requests reach, by the name of the path parameter naming them."""

    headers: dict[str, str]
    path_parameters: dict[str, Any] = field(default_factory=dict)


def _integration_seed() -> Seeded:
    application = ApplicationFactory()
    campaign = CampaignFactory(
        application=application,
        active_rules=[{"title": "Always", "condition": ["and", True], "effects": []}],
    )
    # The customer of a closed session: one closed session counted.
    profile = CustomerProfileFactory(
        application=application, integration_id="customer-1", closed_sessions=1
    )
    session = CustomerSessionFactory(
        application=application,
        profile=profile,
        integration_id="session-1",
        state=SessionState.CLOSED,
    )
    CartItemFactory(session=session, position=0, quantity=2, price=Decimal("10"))
    coupon = CouponFactory(campaign=campaign, value="SUMMER", usage_limit=0)
    CouponReservationFactory(coupon=coupon, profile=profile)
    ReferralFactory(campaign=campaign, advocate_profile_integration_id=profile.integration_id)
    EventFactory(application=application, profile=profile)
    return Seeded(
        headers=api_key_headers(application),
        path_parameters={
            "customer_session_id": session.integration_id,
            "integration_id": profile.integration_id,
            "coupon_value": coupon.value,
        },
    )


def _management_seed() -> Seeded:
    user = UserFactory(is_superuser=True, is_staff=True)
    token = ManagementTokenFactory(user=user, raw_token="schemathesis-" + "0" * 30)
    application = ApplicationFactory()
    campaign = CampaignFactory(
        application=application,
        active_rules=[{"title": "Always", "condition": ["and", True], "effects": []}],
    )
    assert campaign.active_ruleset is not None
    profile = CustomerProfileFactory(application=application)
    session = CustomerSessionFactory(application=application, profile=profile)
    CartItemFactory(session=session, position=0)
    coupon = CouponFactory(campaign=campaign, batch_id="batch1")
    attribute = AttributeDefinitionFactory(application=application)
    EventFactory(application=application, profile=profile)
    referral = ReferralFactory(
        campaign=campaign, advocate_profile_integration_id=profile.integration_id
    )
    webhook = Webhook.objects.create(
        title="Hook", url="https://hooks.example.com/", signing_secret="s" * 32
    )
    webhook.applications.set([application])
    del token
    return Seeded(
        headers=bearer("schemathesis-" + "0" * 30),
        path_parameters={
            "application_id": application.pk,
            "campaign_id": campaign.pk,
            "ruleset_id": campaign.active_ruleset.pk,
            "coupon_id": coupon.pk,
            "batch_id": "batch1",
            "attribute_id": attribute.pk,
            "customer_id": profile.pk,
            "session_id": session.pk,
            "referral_id": referral.pk,
            "webhook_id": webhook.pk,
        },
    )


@pytest.fixture
def _contract_settings(settings: Settings) -> Iterator[None]:
    """Any host (Schemathesis' WSGI client calls itself ``localhost``), no key rate limit, and
    the database connection kept open between requests, as Django's test client keeps it: the
    requests run inside the test's transaction."""
    settings.ALLOWED_HOSTS = ["*"]
    settings.MANAGEMENT_KEY_RATE_PER_MINUTE = 10**9
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def integration_seed(db: None, _contract_settings: None) -> Seeded:
    return _integration_seed()


@pytest.fixture
def management_seed(db: None, _contract_settings: None) -> Seeded:
    return _management_seed()


def _seed_path(case: Any, seeded: Seeded) -> None:
    """Replace most generated path parameters by seeded ids, deterministically."""
    parameters = case.path_parameters or {}
    digest = hashlib.sha256(repr(sorted(parameters.items())).encode()).digest()
    if digest[0] % 10 >= SEEDED_IN_TEN:
        return
    for name in parameters:
        if name in seeded.path_parameters:
            parameters[name] = seeded.path_parameters[name]


def _call_and_validate(case: Any, seeded: Seeded) -> None:
    """One request, in a savepoint rolled back afterwards, checked against the schema."""
    from campaigns.compiled import compiled_campaigns_forget

    _seed_path(case, seeded)
    case.headers = {**(case.headers or {}), **seeded.headers}
    with transaction.atomic():
        try:
            response = case.call()
        finally:
            transaction.set_rollback(True)
            # Rules compiled from rolled-back rows must not outlive them.
            compiled_campaigns_forget()
    case.validate_response(response, checks=CHECKS)


_HYPOTHESIS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

# Loaded when the module is collected: one test per operation. Generating a schema reads no
# table, so it needs no database.
integration = schemathesis.openapi.from_wsgi(
    "/openapi/integration.json", WSGIHandler(), config=CONFIG
)
management = schemathesis.openapi.from_wsgi(
    "/openapi/management.json", WSGIHandler(), config=CONFIG
)


@_HYPOTHESIS
@integration.parametrize()
def test_integration_api(case: Any, integration_seed: Seeded) -> None:
    _call_and_validate(case, integration_seed)


@_HYPOTHESIS
@management.parametrize()
def test_management_api(case: Any, management_seed: Seeded) -> None:
    _call_and_validate(case, management_seed)


@pytest.mark.usefixtures("_contract_settings")
def test_seeded_objects_survive_the_rollback_of_each_request(management_seed: Seeded) -> None:
    """The per-request savepoint: a deleted campaign and a revoked token come back."""
    from django.test import Client

    client = Client(headers=management_seed.headers)
    application_id = management_seed.path_parameters["application_id"]
    campaign_id = management_seed.path_parameters["campaign_id"]
    with transaction.atomic():
        client.delete("/v1/sessions")
        transaction.set_rollback(True)

    response = client.get(f"/v1/applications/{application_id}/campaigns/{campaign_id}")

    assert response.status_code == 200
    assert Campaign.objects.filter(pk=campaign_id).exists()


# --- What the contract tests found, pinned down ------------------------------------------------


@pytest.mark.django_db
def test_a_string_holding_nul_is_a_400_not_a_500(client: Any) -> None:
    """PostgreSQL's text cannot hold NUL: the body is refused before anything is written."""
    application = ApplicationFactory()
    campaign = CampaignFactory(application=application)
    CouponFactory(campaign=campaign, value="SUMMER")

    response = client.post(
        "/v1/coupon_reservations/SUMMER",
        '{"integrationIDs": ["a\\u0000b"]}',
        content_type="application/json",
        headers=api_key_headers(application),
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "parse_error"
    assert not CustomerProfile.objects.filter(application=application).exists()


@pytest.mark.django_db
def test_a_time_with_an_offset_postgresql_refuses_is_stored_in_utc(client: Any) -> None:
    application = ApplicationFactory()
    campaign = CampaignFactory(application=application)

    response = client.post(
        "/v1/referrals",
        {
            "campaignId": campaign.pk,
            "advocateProfileIntegrationId": "advocate",
            "startDate": "2030-01-01T00:00:00+16:00",
        },
        content_type="application/json",
        headers=api_key_headers(application),
    )

    assert response.status_code == 201
    assert response.json()["startDate"] == "2029-12-31T08:00:00Z"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2030-01-01T00:00:00+16:00", datetime(2029, 12, 31, 8, tzinfo=UTC)),
        ("2030-01-01T00:00:00Z", datetime(2030, 1, 1, tzinfo=UTC)),
    ],
)
def test_management_times_are_read_in_utc(given: str, expected: datetime) -> None:
    moment = RFC3339Field().to_internal_value(given)

    assert moment == expected
    assert moment.utcoffset() == timedelta(0)


def test_a_management_time_that_leaves_the_calendar_in_utc_is_invalid() -> None:
    with pytest.raises(ValidationError):
        RFC3339Field().to_internal_value("0001-01-01T00:00:00+01:00")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/v2/customer_sessions/a%00b",
        "/v1/customer_profiles/a%00b/inventory",
        "/v1/integration/campaigns?campaignIds=%00",
        "/v1/integration/campaigns?a%00=1",
    ],
)
def test_a_path_or_query_holding_nul_is_a_400_on_the_integration_api(
    client: Any, path: str
) -> None:
    application = ApplicationFactory()

    response = client.get(path, headers=api_key_headers(application))

    assert response.status_code == 400
    assert response.json()["StatusCode"] == 400


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/v1/attributes?search=%00", "/v1/applications/1?x=%00"])
def test_a_query_holding_nul_is_a_400_on_the_management_api(client: Any, path: str) -> None:
    ManagementTokenFactory(user=UserFactory(is_superuser=True), raw_token="nul-" + "0" * 40)

    response = client.get(path, headers=bearer("nul-" + "0" * 40))

    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": path.split("?")[1][:-4]}
