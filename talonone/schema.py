"""The OpenAPI schemas of the Integration API and the Management API (drf-spectacular).

Each API has its own schema, as Talon.One publishes two specs and SDKs are generated per API:
``/openapi/integration.json`` and ``/openapi/management.json``, browsable at
``/openapi/integration/`` and ``/openapi/management/`` (Swagger UI) and ``…/redoc/`` (Redoc),
all without authentication (``talonone.urls``).

Conventions for endpoint authors
--------------------------------

Annotate each method of a view with ``extend_schema`` describing its *success* answer exactly
as the code renders it (field names, types, ``allow_null``, ``required``): Schemathesis checks
every answer against it (``tests/test_schemathesis.py``)::

    from drf_spectacular.utils import OpenApiParameter, extend_schema
    from talonone.schema import PAGE_PARAMETERS, page_of

    class CampaignsView(ManagementView):
        operation = {"GET": "getCampaigns", "POST": "createCampaign"}

        @extend_schema(
            parameters=[*PAGE_PARAMETERS, OpenApiParameter("sort", str)],
            responses={200: page_of(CampaignSerializer)},
        )
        def get(self, request: Request, application_id: int) -> Response: ...

        @extend_schema(request=NewCampaignSerializer, responses={201: CampaignSerializer})
        def post(self, request: Request, application_id: int) -> Response: ...

- The operationId is automatic: Talon.One's, from the view's ``operation`` (a str, or a
  mapping from HTTP method to operationId; ``ManagementView`` and Integration API views alike).
  Do not set ``operation_id``.
- The error answers are automatic: every operation documents 400 and 401, and, where they can
  happen, 403 and 429 (Management API), 404 (a path with parameters), 409 (writes), 413 and 415
  (a request body), all in Talon.One's ``ErrorResponseWithStatus`` shape
  (``integration.errors``). Declare an error yourself only for another case, with
  ``ERROR_RESPONSE``: a 404 when the *body* names an object that may not exist
  (``responses={201: X, 404: ERROR_RESPONSE}``), a 422…
- Tags are automatic: Talon.One's tag of the operationId (``OPERATION_TAGS``).
- Lists in Talon.One's page shape ``{hasMore, totalResultSize, data}``: ``page_of(Item)``;
  the ``…/no_total`` variant without ``totalResultSize``: ``page_of(Item, with_total=False)``.
  ``PAGE_PARAMETERS`` are the query parameters ``pageSize`` and ``skip`` that
  ``management.views.paginate`` reads (add ``sort`` with the fields your list sorts by).
- An answer without a body (204): ``responses={204: None}``.
- A view with a true ``legacy`` attribute (the v1 paths the JavaScript SDK still calls) is
  marked deprecated.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Hashable, Mapping
from http import HTTPStatus
from typing import Any, Final, cast

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from management.views import MAX_PAGE_SIZE, MAX_SKIP

#: What tells the two schemas apart (``SPECTACULAR_SETTINGS`` holds the rest), for the
#: views of ``talonone.urls`` and for ``manage.py spectacular --custom-settings``.
INTEGRATION_SCHEMA_SETTINGS: Final = {
    "TITLE": "Integration API",
    "DESCRIPTION": "Push customer sessions, profiles and events, and get the effects of the "
    "running campaigns. Authenticate with `Authorization: ApiKey-v1 <key>`.",
}
MANAGEMENT_SCHEMA_SETTINGS: Final = {
    "TITLE": "Management API",
    "DESCRIPTION": "Manage applications, campaigns, coupons, referrals, attributes and "
    "customers. Authenticate with `Authorization: Bearer <token>` (POST /v1/sessions) or "
    "`Authorization: ManagementKey-v1 <key>`.",
}

#: Methods whose requests carry a body.
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})

#: Methods that write.
_WRITE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


# --- Talon.One's error shape ------------------------------------------------------------------


class ErrorSourceSerializer(serializers.Serializer[Any]):
    """Where the problem is: exactly one of the three."""

    pointer = serializers.CharField(
        required=False, help_text="A JSON pointer (RFC 6901) into the request body."
    )
    parameter = serializers.CharField(
        required=False, help_text="The query parameter or header at fault."
    )
    resource = serializers.CharField(required=False, help_text="The request's path.")

    class Meta:
        ref_name = "ErrorSource"


class APIErrorSerializer(serializers.Serializer[Any]):
    """One problem with the request."""

    title = serializers.CharField(help_text="A short, human-readable summary of the problem.")
    details = serializers.CharField(help_text="What is wrong, and how to fix it.")
    source = ErrorSourceSerializer()  # type: ignore[assignment]
    code = serializers.CharField(help_text="A machine-readable code of the problem.")

    class Meta:
        ref_name = "APIError"


class ErrorResponseWithStatusSerializer(serializers.Serializer[Any]):
    """Every error answer of both APIs (``integration.errors.error_body``)."""

    message = serializers.CharField()
    errors = APIErrorSerializer(many=True)  # type: ignore[assignment]
    StatusCode = serializers.IntegerField()

    class Meta:
        ref_name = "ErrorResponseWithStatus"


#: An error answer, for the rare endpoint that declares one the schema does not add itself.
ERROR_RESPONSE: Final = ErrorResponseWithStatusSerializer

_ERROR_DESCRIPTIONS: Final[Mapping[int, str]] = {
    HTTPStatus.BAD_REQUEST: "The request is malformed or its content is not valid.",
    HTTPStatus.UNAUTHORIZED: "The credentials are missing or were refused.",
    HTTPStatus.FORBIDDEN: "The caller's role or management key does not allow this.",
    HTTPStatus.NOT_FOUND: "There is no such object (or the caller may not see it).",
    HTTPStatus.CONFLICT: "The request conflicts with the object's state or an earlier request.",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "The request body is too large.",
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: "The request body is not JSON.",
    HTTPStatus.TOO_MANY_REQUESTS: "The management key has made too many requests this minute.",
}


# --- Talon.One's pages ------------------------------------------------------------------------

#: The query parameters of every paged list (``management.views.paginate``).
RANGE_PARAMETERS: Final = (
    OpenApiParameter("rangeStart", str, required=True, description="RFC 3339 time or date."),
    OpenApiParameter("rangeEnd", str, required=True, description="RFC 3339 time or date."),
)
"""The required ``rangeStart`` and ``rangeEnd`` of reports (``management.views.query_time``)."""

PAGE_PARAMETERS: Final = (
    OpenApiParameter(
        "pageSize",
        OpenApiTypes.INT,
        description=f"The number of items in the page, 1 to {MAX_PAGE_SIZE} "
        f"(default {MAX_PAGE_SIZE}).",
    ),
    OpenApiParameter(
        "skip", OpenApiTypes.INT, description=f"The number of items to skip, 0 to {MAX_SKIP}."
    ),
)


def page_of(
    item: type[serializers.BaseSerializer[Any]] | serializers.BaseSerializer[Any],
    *,
    with_total: bool = True,
) -> type[serializers.Serializer[Any]]:
    """The serializer of a page of ``item`` in Talon.One's list shape: ``{hasMore,
    totalResultSize, data}``, without ``totalResultSize`` when ``with_total`` is false.

    The same ``item`` gives the same class (one component, ``<Item>Page`` or
    ``<Item>PageWithoutTotal``), however many endpoints use it.
    """
    item_class = item if isinstance(item, type) else type(item)
    return _page_of(cast(Hashable, item_class), with_total)


@functools.cache
def _page_of(item: Hashable, with_total: bool) -> type[serializers.Serializer[Any]]:
    item_class = cast(type[serializers.BaseSerializer[Any]], item)
    base = _component_name(item_class)
    name = f"{base}Page" if with_total else f"{base}PageWithoutTotal"
    fields: dict[str, Any] = {
        "hasMore": serializers.BooleanField(
            help_text="Whether there are more items after this page."
        )
    }
    if with_total:
        fields["totalResultSize"] = serializers.IntegerField(
            help_text="The number of items in the whole list."
        )
    fields["data"] = item_class(many=True)
    meta = type("Meta", (), {"ref_name": name})
    page = type(f"{name}Serializer", (serializers.Serializer,), {**fields, "Meta": meta})
    return page


def _component_name(serializer_class: type[serializers.BaseSerializer[Any]]) -> str:
    meta = getattr(serializer_class, "Meta", None)
    ref_name = getattr(meta, "ref_name", None)
    if ref_name:
        return str(ref_name)
    return re.sub(r"Serializer$", "", serializer_class.__name__)


# --- The schema of an operation ---------------------------------------------------------------


def operation_id_of(view: Any, method: str) -> str | None:
    """Talon.One's operationId of ``method`` on ``view``: from its ``operation``, a str or a
    mapping from method to operationId."""
    operation = getattr(view, "operation", None)
    if isinstance(operation, str):
        return operation
    if isinstance(operation, Mapping):
        found = operation.get(method.upper())
        return str(found) if found else None
    return None


def _operations_of(view: Any) -> list[str]:
    """Every operationId of ``view``, and those of the views it derives from."""
    found: list[str] = []
    for cls in type(view).__mro__:
        operation = vars(cls).get("operation")
        if isinstance(operation, str):
            found.append(operation)
        elif isinstance(operation, Mapping):
            found.extend(str(value) for value in operation.values())
    return found


class TalonOneAutoSchema(AutoSchema):
    """REST_FRAMEWORK's ``DEFAULT_SCHEMA_CLASS``: Talon.One's operationIds, tags and errors."""

    def get_operation_id(self) -> str:
        return operation_id_of(self.view, self.method) or super().get_operation_id()

    def get_tags(self) -> list[str]:
        tag = OPERATION_TAGS.get(self.get_operation_id())
        if tag is None:
            # An operation Talon.One's reference lacks: the tag of a sibling on the same view.
            tag = next(
                (OPERATION_TAGS[s] for s in _operations_of(self.view) if s in OPERATION_TAGS), None
            )
        if tag is None:
            return super().get_tags()
        return [tag]

    def is_deprecated(self) -> bool:
        return bool(getattr(self.view, "legacy", False)) or super().is_deprecated()

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for status in self._error_statuses():
            responses.setdefault(str(status), self._error_response(status))
        return responses

    def _error_statuses(self) -> list[int]:
        statuses = [HTTPStatus.BAD_REQUEST, HTTPStatus.UNAUTHORIZED]
        management = _is_management_view(self.view)
        if management:
            statuses.append(HTTPStatus.FORBIDDEN)
        if "{" in self.path:
            statuses.append(HTTPStatus.NOT_FOUND)
        if self.method in _WRITE_METHODS:
            statuses.append(HTTPStatus.CONFLICT)
        if self.method in _BODY_METHODS:
            statuses += [HTTPStatus.REQUEST_ENTITY_TOO_LARGE, HTTPStatus.UNSUPPORTED_MEDIA_TYPE]
        if management:
            statuses.append(HTTPStatus.TOO_MANY_REQUESTS)
        return sorted(statuses)

    def _error_response(self, status: int) -> dict[str, Any]:
        component = self.resolve_serializer(ErrorResponseWithStatusSerializer, "response")
        response: dict[str, Any] = {
            "description": _ERROR_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            "content": {"application/json": {"schema": component.ref}},
        }
        if status == HTTPStatus.UNAUTHORIZED:
            response["headers"] = {
                "WWW-Authenticate": {
                    "schema": {"type": "string"},
                    "description": "The authentication scheme to use.",
                }
            }
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            response["headers"] = {
                "Retry-After": {
                    "schema": {"type": "string"},
                    "required": True,
                    "description": "The number of seconds to wait before trying again.",
                }
            }
        return response


def _is_management_view(view: Any) -> bool:
    from management.views import ManagementView

    return isinstance(view, ManagementView)


# --- Fields -----------------------------------------------------------------------------------


class RFC3339FieldSchema(OpenApiSerializerFieldExtension):
    """``management.views.RFC3339Field``: a ``date-time`` string."""

    target_class = "management.views.RFC3339Field"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Any) -> dict[str, Any]:
        return {"type": "string", "format": "date-time"}


# --- Authentication ---------------------------------------------------------------------------


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """``Authorization: ApiKey-v1 <key>``, Talon.One's ``api_key_v1``."""

    target_class = "integration.authentication.ApiKeyAuthentication"
    name = "api_key_v1"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "One of the application's API keys, after the scheme: "
            "`Authorization: ApiKey-v1 <key>`.",
        }


class ContentSignatureScheme(OpenApiAuthenticationExtension):
    """``Content-Signature``, which a request may carry beside its API key (never instead)."""

    target_class = "integration.authentication.ContentSignatureAuthentication"
    name = "content_signature"

    def get_security_requirement(self, auto_schema: AutoSchema) -> dict[str, list[Any]]:
        return {"api_key_v1": [], "content_signature": []}

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Content-Signature",
            "description": "An HMAC-SHA256 signature of the request with one of the "
            "application's signing secrets: `signer=<applicationId>; "
            "signature=<hex>`, sent with the API key.",
        }


class BearerScheme(OpenApiAuthenticationExtension):
    """``Authorization: Bearer <token>``, Talon.One's ``manager_auth``."""

    target_class = "management.authentication.BearerAuthentication"
    name = "manager_auth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A token from POST /v1/sessions, after the scheme: "
            "`Authorization: Bearer <token>`.",
        }


class ManagementKeyScheme(OpenApiAuthenticationExtension):
    """``Authorization: ManagementKey-v1 <key>``, Talon.One's ``management_key``."""

    target_class = "management.authentication.ManagementKeyAuthentication"
    name = "management_key"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A management key, after the scheme: "
            "`Authorization: ManagementKey-v1 <key>`.",
        }


# --- Tags -------------------------------------------------------------------------------------

#: Talon.One's tag of each operation of its two APIs, from its reference specs.
_TALON_ONE_TAGS: Final[Mapping[str, str]] = {
    "Accounts and users": (
        "activateUserByEmail createInviteEmail createInviteV2 createPasswordRecoveryEmail "
        "deactivateUserByEmail deleteUser deleteUserByEmail getAccount getAccountAnalytics "
        "getUser getUsers inviteUserExternal oktaEventHandlerChallenge resetPassword "
        "scimCreateGroup scimCreateUser scimDeleteGroup scimDeleteUser scimGetGroup "
        "scimGetGroups scimGetResourceTypes scimGetSchemas scimGetServiceProviderConfig "
        "scimGetUser scimGetUsers scimPatchGroup scimPatchUser scimReplaceGroupAttributes "
        "scimReplaceUserAttributes updateUser"
    ),
    "Achievements": (
        "createAchievement deleteAchievement exportAchievements getAchievement "
        "getCustomerAchievementHistory getCustomerAchievements "
        "getCustomerProfileAchievementProgress listAchievements updateAchievement"
    ),
    "Additional costs": (
        "createAdditionalCost getAdditionalCost getAdditionalCosts updateAdditionalCost"
    ),
    "Analytics": "exportCustomerSessions exportEffects",
    "Applications": (
        "getApplication getApplicationApiHealth getApplicationCartItemFilterExpression "
        "getApplications listApplicationCartItemFilters"
    ),
    "Attributes": "createAttribute getAttribute getAttributes importAllowedList updateAttribute",
    "Audiences": (
        "createAudienceV2 deleteAudienceMembershipsV2 deleteAudienceV2 "
        "exportAudiencesMemberships getAudienceMemberships getAudiences getAudiencesAnalytics "
        "importAudiencesMemberships updateAudienceCustomersAttributes updateAudienceV2 "
        "updateCustomerProfileAudiences"
    ),
    "Campaign access groups": "getCampaignGroup getCampaignGroups",
    "Campaign templates": "createCampaignFromTemplate getCampaignTemplates",
    "Campaigns": (
        "copyCampaignToApplications deleteCampaign exportApplicationCampaignAnalytics "
        "getCampaign getCampaignAnalytics getCampaignByAttributes getCampaigns getRuleset "
        "getRulesets integrationGetAllCampaigns updateCampaign"
    ),
    "Catalogs": "bestPriorPrice listCatalogItems priceHistory syncCatalog",
    "Collections": (
        "createAccountCollection createCollection deleteAccountCollection deleteCollection "
        "exportAccountCollectionItems exportCollectionItems getAccountCollection "
        "getCollection getCollectionItems importAccountCollection importCollection "
        "listAccountCollections listCollections listCollectionsInApplication "
        "updateAccountCollection updateCollection"
    ),
    "Coupons": (
        "createCouponReservation createCoupons createCouponsAsync createCouponsDeletionJob "
        "createCouponsForMultipleRecipients deleteCoupon deleteCouponReservation "
        "deleteCoupons exportCoupons generateCouponRejections getCouponsWithoutTotalCount "
        "getReservedCustomers importCoupons "
        "searchCouponsAdvancedApplicationWideWithoutTotalCount "
        "searchCouponsAdvancedWithoutTotalCount updateCoupon updateCouponBatch"
    ),
    "Customer data": (
        "getApplicationCustomer getApplicationCustomers getApplicationCustomersByAttributes "
        "getApplicationEventTypes getApplicationEventsWithoutTotalCount getApplicationSession "
        "getApplicationSessions getCustomerActivityReport "
        "getCustomerActivityReportsWithoutTotalCount getCustomerAnalytics getCustomerProfile "
        "getCustomerProfiles getCustomersByAttributes"
    ),
    "Customer profiles": (
        "deleteCustomerData getCustomerInventory updateCustomerProfileV2 updateCustomerProfilesV2"
    ),
    "Customer sessions": (
        "getCustomerSession reopenCustomerSession returnCartItems updateCustomerSessionV2"
    ),
    "Events": "getEventTypes getEventV3 trackEventV2 trackEventV3",
    "Experiments": "getExperiment listExperiments",
    "Giveaways": "exportPoolGiveaways importPoolGiveaways",
    "Logs": "getAccessLogsWithoutTotalCount getChanges getExports getMessageLogs",
    "Loyalty": (
        "activateLoyaltyPoints addLoyaltyPoints deleteLoyaltyTransactionsFromLedgers "
        "exportCustomersTiers exportLoyaltyBalance exportLoyaltyBalances "
        "exportLoyaltyJoinDates exportLoyaltyLedger getDashboardStatistics getLoyaltyBalances "
        "getLoyaltyLedgerBalances getLoyaltyPoints getLoyaltyProgram "
        "getLoyaltyProgramProfileLedgerTransactions getLoyaltyProgramProfilePoints "
        "getLoyaltyProgramProfileTransactions getLoyaltyProgramTransactions "
        "getLoyaltyPrograms getLoyaltyStatistics importLoyaltyCustomersTiers "
        "importLoyaltyJoinDates importLoyaltyPoints removeLoyaltyPoints"
    ),
    "Loyalty cards": (
        "addLoyaltyCardPoints createBatchLoyaltyCards deductLoyaltyCardPoints "
        "deleteLoyaltyCard exportLoyaltyCardBalances exportLoyaltyCardLedger "
        "exportLoyaltyCards generateLoyaltyCard getLoyaltyCard getLoyaltyCardBalances "
        "getLoyaltyCardPoints getLoyaltyCardTransactionLogs getLoyaltyCardTransactions "
        "getLoyaltyCards importLoyaltyCards linkLoyaltyCardToProfile transferLoyaltyCard "
        "unlinkLoyaltyCardFromProfile updateLoyaltyCard"
    ),
    "Referrals": (
        "createReferral createReferralsForMultipleAdvocates deleteReferral exportReferrals "
        "getApplicationCustomerFriends getReferralsWithoutTotalCount importReferrals "
        "updateReferral"
    ),
    "Roles": "getRoleV2 listAllRolesV2 updateRoleV2",
    "Sessions": "createSession destroySession",
    "Store budgets": (
        "createCampaignStoreBudget deleteCampaignStoreBudgets exportCampaignStoreBudgets "
        "importCampaignStoreBudget listCampaignStoreBudgetLimits summarizeCampaignStoreBudget"
    ),
    "Stores": (
        "createStore deleteStore disconnectCampaignStores exportCampaignStores getStore "
        "importCampaignStores listStores updateStore"
    ),
    "Value maps": "exportCampaignValueMap",
    "Webhooks": "getWebhook getWebhooks",
}

#: The tag of each operationId.
OPERATION_TAGS: Final[Mapping[str, str]] = {
    operation: tag
    for tag, operations in _TALON_ONE_TAGS.items()
    for operation in operations.split()
}
