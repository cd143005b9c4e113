"""A campaign's referral codes: list them (``getReferralsWithoutTotalCount``), change one
(``updateReferral``), delete one (``deleteReferral``), import them from CSV
(``importReferrals``) and export an application's (``exportReferrals``, recorded as every
export is: ``management.exports``), in Talon.One's ``Referral`` shape. Shops create codes one
by one with the Integration API (``POST /v1/referrals``, ``integration.referrals``).

As for coupons (``management.coupons``, whose filters, file handling and answers these
endpoints share), a campaign of another application is answered 404 as one that does not
exist; viewers read, editors write; the whole request is checked before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from django.db.models import QuerySet
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.models import Application, Referral
from campaigns.models.customers import INTEGRATION_ID_MAX_LENGTH
from campaigns.models.referrals import REFERRAL_USAGE_LIMIT_MAX
from campaigns.selectors import attribute_schema
from campaigns.services.referral_csv import referrals_export_csv, referrals_import_csv
from campaigns.services.referrals import ReferralInvalid, referral_delete, referral_update
from integration.errors import BadRequest, ErrorItem, NotFound
from integration.render import render_referral
from integration.schema import ReferralSerializer
from integration.sessions import referral_view
from management.coupons import (
    IMPORT_BODY,
    IMPORT_MAX_BYTES,
    VALIDITY_PARAMETERS,
    ImportAnswer,
    StrictSerializer,
    body_valid,
    csv_read_errors,
    import_refused,
    importer_id,
    query_choice,
    query_id,
    render_import,
    uploaded_csv,
    validity_filtered,
)
from management.exports import CSV_ANSWERS, csv_response, export_filters, export_record
from management.models import ExportEntity, Role
from management.views import (
    MAX_ID,
    CampaignScopedView,
    ManagementView,
    RFC3339Field,
    campaign_of,
    paginate,
)
from talonone.schema import PAGE_PARAMETERS, page_of

#: The fields ``getReferralsWithoutTotalCount`` sorts by: API name to model field.
REFERRAL_SORT_FIELDS: Final = {
    "id": "id",
    "created": "created",
    "code": "code",
    "startDate": "start_date",
    "expiryDate": "expiry_date",
    "usageLimit": "usage_limit",
    "usageCounter": "usage_counter",
    "advocateProfileIntegrationId": "advocate_profile_integration_id",
}

#: The filters ``referrals_filtered`` reads.
REFERRAL_FILTER_PARAMETERS: Final = [
    *VALIDITY_PARAMETERS,
    *(OpenApiParameter(name, str) for name in ("code", "advocate", "batchId")),
]

#: The model field of each field ``updateReferral`` may change.
_UPDATABLE: Final = {
    "friendProfileIntegrationId": "friend_profile_integration_id",
    "startDate": "start_date",
    "expiryDate": "expiry_date",
    "usageLimit": "usage_limit",
    "attributes": "attributes",
}

#: Where in ``updateReferral``'s body each field a service names comes from.
_POINTERS: Final = {
    "friend_profile_integration_id": "/friendProfileIntegrationId",
    "start_date": "/startDate",
    "expiry_date": "/expiryDate",
    "usage_limit": "/usageLimit",
    "attributes": "/attributes",
}


class UpdateReferralSerializer(StrictSerializer):
    """The body of ``updateReferral``: every field optional; only those sent are written.
    ``null`` clears ``friendProfileIntegrationId``, ``startDate`` and ``expiryDate``."""

    friendProfileIntegrationId = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=INTEGRATION_ID_MAX_LENGTH,
        trim_whitespace=False,
    )
    startDate = RFC3339Field(required=False, allow_null=True)
    expiryDate = RFC3339Field(required=False, allow_null=True)
    usageLimit = serializers.IntegerField(
        required=False, min_value=0, max_value=REFERRAL_USAGE_LIMIT_MAX
    )
    attributes = serializers.DictField(required=False)


def referral_renderer(application: Application) -> Callable[[Referral], dict[str, Any]]:
    """Renders the application's referrals as Talon.One's ``Referral``, their attributes read
    back as their types (one query for the application's definitions)."""
    types = attribute_schema(application=application).types

    def render(referral: Referral) -> dict[str, Any]:
        return render_referral(referral_view(referral, types=types))

    return render


def referrals_filtered(request: Request, referrals: QuerySet[Referral]) -> QuerySet[Referral]:
    """``referrals`` narrowed by Talon.One's referral filters in the query string: ``code``
    (a part of it, in any case), ``advocate``, ``batchId``, and those coupons have too
    (``createdBefore``, ``createdAfter``, ``valid``, ``usable``)."""
    params = request.query_params
    if code := params.get("code"):
        referrals = referrals.filter(code__icontains=code)
    if (advocate := params.get("advocate")) is not None:
        referrals = referrals.filter(advocate_profile_integration_id=advocate)
    if (batch_id := params.get("batchId")) is not None:
        referrals = referrals.filter(batch_id=batch_id)
    return validity_filtered(request, referrals)


def _no_referral(referral_id: int) -> NotFound:
    return NotFound(f"There is no referral {referral_id}.", code="referral_not_found")


class ReferralsNoTotalView(CampaignScopedView):
    """``GET …/campaigns/{campaignId}/referrals/no_total``: the campaign's referrals,
    filtered and paged."""

    operation = "getReferralsWithoutTotalCount"

    @extend_schema(
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter(
                "sort", str, enum=[*REFERRAL_SORT_FIELDS, *(f"-{f}" for f in REFERRAL_SORT_FIELDS)]
            ),
            *REFERRAL_FILTER_PARAMETERS,
        ],
        responses={200: page_of(ReferralSerializer, with_total=False)},
    )
    def get(self, request: Request, application_id: int, campaign_id: int) -> Response:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.VIEWER)
        referrals = referrals_filtered(request, Referral.objects.filter(campaign=campaign))
        page = paginate(
            request,
            referrals,
            sortable=REFERRAL_SORT_FIELDS,
            render=referral_renderer(campaign.application),
            with_total=False,
        )
        return Response(page)


class ReferralView(CampaignScopedView):
    """``PUT …/referrals/{referralId}`` changes the fields sent; ``DELETE`` deletes the
    referral."""

    operation = {"PUT": "updateReferral", "DELETE": "deleteReferral"}

    @extend_schema(request=UpdateReferralSerializer, responses={200: ReferralSerializer})
    def put(
        self, request: Request, application_id: int, campaign_id: int, referral_id: int
    ) -> Response:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.EDITOR)
        if not 0 < referral_id <= MAX_ID:
            raise _no_referral(referral_id)
        data = body_valid(UpdateReferralSerializer, request.data)
        changes = {field: data[name] for name, field in _UPDATABLE.items() if name in data}
        if changes.get("friend_profile_integration_id", "") is None:
            changes["friend_profile_integration_id"] = ""
        try:
            referral = referral_update(referral_id=referral_id, campaign=campaign, changes=changes)
        except Referral.DoesNotExist:
            raise _no_referral(referral_id) from None
        except ReferralInvalid as error:
            pointer = _POINTERS.get(error.field, "")
            name = pointer.rsplit("/", 1)[-1] or "The request"
            item = ErrorItem(
                code="invalid",
                title="Invalid value",
                details=f"{name} {error.message}.",
                pointer=pointer,
            )
            raise BadRequest("The request is not valid.", [item], code="invalid") from None
        return Response(referral_renderer(campaign.application)(referral))

    @extend_schema(responses={204: None})
    def delete(
        self, request: Request, application_id: int, campaign_id: int, referral_id: int
    ) -> Response:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.EDITOR)
        if not 0 < referral_id <= MAX_ID:
            raise _no_referral(referral_id)
        try:
            referral_delete(referral_id=referral_id, campaign=campaign)
        except Referral.DoesNotExist:
            raise _no_referral(referral_id) from None
        return Response(status=204)


class ImportReferralsView(CampaignScopedView):
    """``POST …/import_referrals``: the referrals of a CSV file (multipart ``upFile``), all or
    none. Answers Talon.One's ``Import``: referral imports are not recorded apart, so ``id`` is
    the first imported referral's id, and ``batchId`` the batch they all carry."""

    operation = "importReferrals"
    parser_classes = [MultiPartParser]
    max_body_bytes = IMPORT_MAX_BYTES

    @extend_schema(request=IMPORT_BODY, responses={200: ImportAnswer})
    def post(self, request: Request, application_id: int, campaign_id: int) -> Response:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.EDITOR)
        with csv_read_errors():
            result = referrals_import_csv(campaign=campaign, rows=uploaded_csv(request))
        if not result.ok:
            raise import_refused(result, "referral")
        first = (
            Referral.objects.filter(campaign=campaign, batch_id=result.batch_id)
            .order_by("id")
            .first()
        )
        assert first is not None  # the import made at least one
        return Response(
            render_import(
                id=first.pk,
                created=first.created,
                user_id=importer_id(self.caller),
                entity="Referral",
                result=result,
            )
        )


#: The query parameters of ``exportReferrals``: those it records in its ``Export``.
_EXPORT_PARAMETERS: Final = [
    *REFERRAL_FILTER_PARAMETERS,
    OpenApiParameter("campaignId", OpenApiTypes.INT),
    OpenApiParameter("dateFormat", str, enum=["excel", "ISO8601"]),
]
_EXPORT_FILTERS: Final = tuple(parameter.name for parameter in _EXPORT_PARAMETERS)


class ExportReferralsView(ManagementView):
    """``GET /v1/applications/{applicationId}/export_referrals``: the application's referrals
    (or one campaign's, ``campaignId``), filtered, as CSV streamed as it is read."""

    operation = "exportReferrals"

    @extend_schema(parameters=_EXPORT_PARAMETERS, responses=CSV_ANSWERS)
    def get(self, request: Request, application_id: int) -> HttpResponseBase:
        application = self.application_for(application_id, role=Role.VIEWER)
        referrals = Referral.objects.filter(application=application)
        campaign_id = query_id(request, "campaignId")
        if campaign_id is not None:
            referrals = referrals.filter(campaign=campaign_of(application, campaign_id))
        referrals = referrals_filtered(request, referrals)
        excel = query_choice(request, "dateFormat", ("excel", "ISO8601")) == "excel"
        export_record(
            caller=self.caller,
            entity=ExportEntity.REFERRAL,
            application=application,
            campaign_id=campaign_id,
            filters=export_filters(request, _EXPORT_FILTERS),
        )
        lines = referrals_export_csv(
            application=application, referrals=referrals, excel_dates=excel
        )
        return csv_response(lines, "referrals.csv")
