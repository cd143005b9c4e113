"""Error answers of the APIs: one JSON shape, ``{message, errors, StatusCode}``, for every error.

Given an authenticated shop, when a request is malformed, invalid, too large, of the wrong type,
aimed at no endpoint or hits a problem the view reports, then the answer is a 4xx in Talon.One's
error shape, each error pointing at the part of the request at fault; and a crash is a 500 in the
same shape, never an HTML page.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import path
from pytest_django import Settings
from rest_framework import exceptions as drf
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.models import Application
from campaigns.services.rulesets import RulesetInvalid
from integration.errors import (
    BadRequest,
    Conflict,
    ErrorItem,
    IntegrationError,
    NotFound,
    json_pointer,
    validation_items,
)
from integration.views import MAX_BODY_BYTES, IntegrationView
from rules.errors import RuleError, RuleTypeError, UnknownAttribute
from tests.factories import ApplicationFactory


class CartItemSerializer(serializers.Serializer[Any]):
    sku = serializers.CharField()
    quantity = serializers.IntegerField(min_value=1)


class CustomerSessionSerializer(serializers.Serializer[Any]):
    profileId = serializers.CharField()
    cartItems = CartItemSerializer(many=True)
    couponCodes = serializers.ListField(child=serializers.CharField(max_length=5), required=False)


class SessionRequestSerializer(serializers.Serializer[Any]):
    customerSession = CustomerSessionSerializer()


class SessionView(IntegrationView):
    def put(self, request: Request) -> Response:
        serializer = SessionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


class RaisingView(IntegrationView):
    """Raises what the test put in ``raises``."""

    raises: Exception = RuntimeError("set by the test")

    def get(self, request: Request) -> Response:
        raise self.raises


SESSION = "/v2/test/session"
RAISING = "/v1/test/raising"
urlpatterns = [
    path(SESSION.lstrip("/"), SessionView.as_view()),
    path(RAISING.lstrip("/"), RaisingView.as_view()),
]

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _own_replay_cache(settings: Settings) -> None:
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    }


@pytest.fixture
def application() -> Application:
    return ApplicationFactory()


def error_of(response: Any, status: int) -> tuple[str, list[dict[str, Any]]]:
    """The message and errors of an error answer, checking its shape on the way."""
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"message", "errors", "StatusCode"}
    assert body["StatusCode"] == status
    assert body["errors"]
    for item in body["errors"]:
        assert set(item) == {"title", "details", "source", "code"}
        assert len(item["source"]) == 1
    return body["message"], body["errors"]


def raising(client: Client, auth: dict[str, str], exception: Exception, **extra: Any) -> Any:
    RaisingView.raises = exception
    return client.get(RAISING, headers={**auth, **extra})


# --- The request body -------------------------------------------------------------------------


@pytest.mark.urls(__name__)
def test_a_valid_body_is_parsed(client: Client, auth: dict[str, str]) -> None:
    body = {"customerSession": {"profileId": "p1", "cartItems": [{"sku": "a", "quantity": 2}]}}

    response = client.put(SESSION, data=body, content_type="application/json", headers=auth)

    assert response.status_code == 200
    assert response.json() == body


@pytest.mark.urls(__name__)
def test_every_invalid_value_is_pointed_at(client: Client, auth: dict[str, str]) -> None:
    good = {"sku": "a", "quantity": 1}
    body = {
        "customerSession": {
            "cartItems": [good, good, good, {"sku": "d", "quantity": 0}, {"quantity": 1}],
            "couponCodes": ["OK", "TOO-LONG"],
        }
    }

    response = client.put(SESSION, data=body, content_type="application/json", headers=auth)

    message, errors = error_of(response, 400)
    assert message == "The request is not valid."
    found = {(e["source"]["pointer"], e["code"], e["title"]) for e in errors}
    assert found == {
        ("/customerSession/profileId", "required", "Missing value"),
        ("/customerSession/cartItems/3/quantity", "min_value", "Invalid value"),
        ("/customerSession/cartItems/4/sku", "required", "Missing value"),
        ("/customerSession/couponCodes/1", "max_length", "Invalid value"),
    }
    [min_value] = [e for e in errors if e["code"] == "min_value"]
    assert min_value["details"] == "Ensure this value is greater than or equal to 1."


@pytest.mark.urls(__name__)
def test_a_list_that_is_not_a_list_is_pointed_at(client: Client, auth: dict[str, str]) -> None:
    body = {"customerSession": {"profileId": "p1", "cartItems": {"sku": "a"}}}

    response = client.put(SESSION, data=body, content_type="application/json", headers=auth)

    _, [error] = error_of(response, 400)
    assert error["source"] == {"pointer": "/customerSession/cartItems"}
    assert error["code"] == "not_a_list"


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("body", [b'{"customerSession": ', b"{'a': 1}", b"NaN", b"\xff"])
def test_malformed_json_is_a_400(client: Client, auth: dict[str, str], body: bytes) -> None:
    response = client.put(SESSION, data=body, content_type="application/json", headers=auth)

    message, [error] = error_of(response, 400)
    assert message == "The request body is not valid JSON."
    assert error["code"] == "parse_error"
    assert error["source"] == {"pointer": ""}


@pytest.mark.urls(__name__)
def test_a_body_that_is_not_json_is_a_415(client: Client, auth: dict[str, str]) -> None:
    response = client.put(SESSION, data=b"profileId=p1", content_type="text/plain", headers=auth)

    _, [error] = error_of(response, 415)
    assert error["source"] == {"parameter": "Content-Type"}
    assert error["code"] == "unsupported_media_type"


@pytest.mark.urls(__name__)
def test_json_with_a_charset_is_json(client: Client, auth: dict[str, str]) -> None:
    body = b'{"customerSession": {"profileId": "p1", "cartItems": []}}'

    response = client.put(
        SESSION, data=body, content_type="application/json; charset=utf-8", headers=auth
    )

    assert response.status_code == 200


@pytest.mark.urls(__name__)
def test_a_body_over_the_limit_is_a_413(client: Client, auth: dict[str, str]) -> None:
    body = b'{"pad": "' + b"x" * MAX_BODY_BYTES + b'"}'

    response = client.put(SESSION, data=body, content_type="application/json", headers=auth)

    _, [error] = error_of(response, 413)
    assert error["source"] == {"pointer": ""}
    assert str(MAX_BODY_BYTES) in error["details"]


@pytest.mark.urls(__name__)
def test_a_body_over_the_limit_is_refused_before_authentication(client: Client) -> None:
    body = b" " * (MAX_BODY_BYTES + 1)

    response = client.put(SESSION, data=body, content_type="application/json")

    error_of(response, 413)


# --- What views raise -------------------------------------------------------------------------


@pytest.mark.urls(__name__)
def test_a_rule_error_is_a_400_pointing_at_the_rule(client: Client, auth: dict[str, str]) -> None:
    error = UnknownAttribute("no attribute Session.Totl", pointer="/rules/0/condition/1/2")

    response = raising(client, auth, error)

    _, [item] = error_of(response, 400)
    assert item == {
        "title": "Unknown attribute",
        "details": "no attribute Session.Totl",
        "source": {"pointer": "/rules/0/condition/1/2"},
        "code": "unknown_attribute",
    }


@pytest.mark.urls(__name__)
def test_an_invalid_ruleset_is_a_400_with_every_error(client: Client, auth: dict[str, str]) -> None:
    problems = [RuleTypeError("wrong type", pointer="/rules/0"), RuleError("bad", pointer="/x")]

    response = raising(client, auth, RulesetInvalid(problems))

    _, items = error_of(response, 400)
    assert [(i["code"], i["source"]["pointer"]) for i in items] == [
        ("type_error", "/rules/0"),
        ("rule_error", "/x"),
    ]


@pytest.mark.urls(__name__)
@pytest.mark.parametrize(
    ("exception", "status", "code"),
    [
        (BadRequest("No such coupon state."), 400, "bad_request"),
        (NotFound("No customer session s1."), 404, "not_found"),
        (Conflict("The session is being updated by another request."), 409, "conflict"),
        (IntegrationError(422, "Unprocessable.", code="custom"), 422, "custom"),
        (drf.NotFound(), 404, "not_found"),
        (drf.PermissionDenied(), 403, "permission_denied"),
    ],
)
def test_an_integration_error_is_answered_with_its_status(
    client: Client, auth: dict[str, str], exception: Exception, status: int, code: str
) -> None:
    response = raising(client, auth, exception)

    message, [item] = error_of(response, status)
    assert item["code"] == code
    assert item["source"] == {"resource": RAISING}
    assert item["details"] == message


@pytest.mark.urls(__name__)
def test_an_integration_error_keeps_its_items(client: Client, auth: dict[str, str]) -> None:
    where = ErrorItem(code="unknown_coupon", title="Unknown coupon", details="x", parameter="code")

    response = raising(client, auth, Conflict("Coupon reserved.", [where]))

    message, [item] = error_of(response, 409)
    assert message == "Coupon reserved."
    assert item["source"] == {"parameter": "code"}


@pytest.mark.urls(__name__)
def test_throttling_says_when_to_come_back(client: Client, auth: dict[str, str]) -> None:
    response = raising(client, auth, drf.Throttled(wait=30))

    error_of(response, 429)
    assert response["Retry-After"] == "30"


@pytest.mark.urls(__name__)
def test_a_crash_is_a_500_in_the_same_shape(auth: dict[str, str]) -> None:
    client = Client(raise_request_exception=False)

    response = raising(client, auth, RuntimeError("a bug"))

    _, [item] = error_of(response, 500)
    assert "a bug" not in response.content.decode()
    assert item["code"] == "server_error"


# --- The HTTP envelope ------------------------------------------------------------------------


@pytest.mark.urls(__name__)
def test_a_method_the_endpoint_lacks_is_a_405(client: Client, auth: dict[str, str]) -> None:
    response = client.delete(SESSION, headers=auth)

    _, [item] = error_of(response, 405)
    assert item["code"] == "method_not_allowed"
    assert response["Allow"] == "PUT"


@pytest.mark.urls(__name__)
def test_options_is_not_offered(client: Client, auth: dict[str, str]) -> None:
    response = client.options(SESSION, headers=auth)

    error_of(response, 405)


@pytest.mark.urls(__name__)
def test_the_answer_is_json_whatever_the_client_accepts(
    client: Client, auth: dict[str, str]
) -> None:
    response = raising(client, auth, NotFound("Nothing here."), Accept="text/html")

    error_of(response, 404)


def test_an_unknown_api_path_is_a_json_404(client: Client) -> None:
    response = client.put("/v2/nonsense", data=b"{}", content_type="application/json")

    message, [item] = error_of(response, 404)
    assert message == "There is no such endpoint."
    assert item["source"] == {"resource": "/v2/nonsense"}


def test_a_request_django_cannot_serve_is_a_json_400(client: Client) -> None:
    response = client.get("/v1/anything", headers={"Host": "evil.example"})

    error_of(response, 400)


def test_pages_outside_the_api_keep_their_html(client: Client) -> None:
    response = client.get("/app/nonsense")

    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


# --- Pieces -----------------------------------------------------------------------------------


def test_pointers_escape_slashes_and_tildes() -> None:
    assert json_pointer("/attributes", "a/b~c") == "/attributes/a~1b~0c"


def test_nested_details_become_pointers() -> None:
    detail = drf.ValidationError(
        {"non_field_errors": ["whole object"], "items": [{}, {"n": ["bad"]}], "tags": {2: ["x"]}}
    ).detail

    pointers = [item.pointer for item in validation_items(detail)]

    assert pointers == ["", "/items/1/n", "/tags/2"]


def test_an_error_item_has_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ErrorItem(code="x", title="x", details="x")
    with pytest.raises(ValueError, match="exactly one"):
        ErrorItem(code="x", title="x", details="x", pointer="", parameter="p")


class EchoNumberView(IntegrationView):
    """Answers with the type and text of ``customerSession.total`` as parsed."""

    def put(self, request: Request) -> Response:
        value = request.data["total"]
        return Response({"type": type(value).__name__, "text": str(value)})


ECHO = "/v2/test/echo"
urlpatterns.append(path(ECHO.lstrip("/"), EchoNumberView.as_view()))


@pytest.mark.urls(__name__)
def test_decimal_numbers_arrive_exactly_as_sent(client: Client, auth: dict[str, str]) -> None:
    response = client.put(
        ECHO,
        data=b'{"total": 0.10000000000000000001}',
        content_type="application/json",
        headers=auth,
    )
    assert response.json() == {"type": "Decimal", "text": "0.10000000000000000001"}


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("body", [b'{"total": Infinity}', b'{"total": -Infinity}', b"[" * 100_000])
def test_non_numbers_and_absurd_nesting_are_a_400(
    client: Client, auth: dict[str, str], body: bytes
) -> None:
    response = client.put(ECHO, data=body, content_type="application/json", headers=auth)
    _, errors = error_of(response, 400)
    assert errors[0]["code"] == "parse_error"


@pytest.mark.urls(__name__)
def test_a_payload_error_is_a_400_with_every_problem(client: Client, auth: dict[str, str]) -> None:
    from integration.payloads import PayloadError

    problems = (("/customerSession/cartItems/0/quantity", "Invalid value", "must be at least 1"),)
    response = raising(client, auth, PayloadError(problems))
    message, errors = error_of(response, 400)
    assert message == "The request is not valid."
    assert [(e["source"], e["code"]) for e in errors] == [
        ({"pointer": "/customerSession/cartItems/0/quantity"}, "invalid_payload")
    ]
