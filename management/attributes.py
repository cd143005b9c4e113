"""``/v1/attributes``: custom attribute definitions, as Talon.One's Management API serves them.

- ``getAttributes`` lists the definitions of the applications the caller may see (any role),
  paged (``paginate``) and filtered by ``entity``, ``type``, ``applicationIds`` (comma
  separated), ``kind`` and ``search`` (name, title, description or type containing the text).
- ``createAttribute`` (editor) defines one; ``getAttribute`` (any role) reads one;
  ``updateAttribute`` (editor) changes its ``title``, ``description`` and ``suggestions``.

In Talon.One an attribute belongs to the account and is shared by the applications it lists;
here each definition belongs to one application (``AttributeDefinition.application``). So a
definition answers ``applicationIds`` (and Talon.One's ``subscribedApplicationsIds``) with its
one application, and ``createAttribute`` needs exactly one application id, of an application
the caller may edit: anything else is a 400, the same whether the application does not exist,
cannot be seen or is only viewed (so that the answer tells nothing of other tenants). A
definition of an application the caller cannot see is a 404, as one that does not exist.

Once created, the ``entity``, ``name``, ``type``, ``eventType`` and application of a
definition cannot change (Talon.One: "create a new attribute"); ``updateAttribute`` may send
them, but only with the values they have. A name taken for the entity in the application (or a
title, which Talon.One also keeps unique per entity) is a 409. ``editable``, ``hasAllowedList``,
``restrictedBySuggestions``, catalogs and ``allowedSubscriptions`` are not modelled here: they
are read and ignored, and answered as ``true``/``false``/absent.

Every write changes the application's attribute catalogue (what requests may send and rules may
read), so it bumps the application's ``rules_version`` (``applications_rules_changed``) in the
same transaction.
"""

from __future__ import annotations

from typing import Any, Final

from django.core.validators import RegexValidator
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.models import Application
from campaigns.models.attributes import (
    ATTRIBUTE_NAME_PATTERN,
    AttributeDefinition,
    AttributeEntity,
    AttributeType,
)
from campaigns.services.rulesets import applications_rules_changed
from integration.errors import BadRequest, Conflict, ErrorItem, NotFound
from integration.render import rfc3339
from management.applications import ACCOUNT_ID
from management.models import ManagementKey, Role
from management.services import applications_visible, role_allows, role_in
from management.views import MAX_ID, ManagementView, paginate, query_problem
from talonone.schema import PAGE_PARAMETERS, page_of

#: The model's bound on names, titles and event types.
MAX_TEXT_LENGTH: Final = 255
#: Talon.One's bound on an attribute's suggestions.
MAX_SUGGESTIONS: Final = 50
#: Talon.One's pattern of a title.
TITLE_PATTERN: Final = r"\A[A-Za-z][A-Za-z0-9_.!~*'() -]*\Z"

#: The fields ``getAttributes`` sorts by: API name to model field.
ATTRIBUTE_SORT_FIELDS: Final = {
    "id": "id",
    "created": "created",
    "entity": "entity",
    "name": "name",
    "title": "title",
    "type": "type",
}

#: The fields that cannot change once a definition exists: API name to model field.
_FIXED_FIELDS: Final = {
    "entity": "entity",
    "name": "name",
    "type": "type",
    "eventType": "event_type",
}


# ---------------------------------------------------------------------------------------------
# Bodies


class AttributeInput(serializers.Serializer[Any]):
    """The body of ``createAttribute`` and ``updateAttribute`` (Talon.One's ``NewAttribute``),
    the fields a definition has here."""

    entity = serializers.ChoiceField(choices=AttributeEntity.choices)
    eventType = serializers.CharField(max_length=MAX_TEXT_LENGTH, required=False, allow_blank=True)
    name = serializers.CharField(
        max_length=MAX_TEXT_LENGTH,
        trim_whitespace=False,
        validators=[
            RegexValidator(
                ATTRIBUTE_NAME_PATTERN,
                "Use letters, digits and underscores, starting with a letter.",
                code="invalid_attribute_name",
            )
        ],
    )
    title = serializers.CharField(
        max_length=MAX_TEXT_LENGTH,
        trim_whitespace=False,
        validators=[
            RegexValidator(
                TITLE_PATTERN,
                "Start with a letter; then use letters, digits, spaces and _.!~*'()-.",
                code="invalid_title",
            )
        ],
    )
    type = serializers.ChoiceField(choices=AttributeType.choices)
    description = serializers.CharField(allow_blank=True, trim_whitespace=False)
    suggestions = serializers.ListField(
        child=serializers.CharField(min_length=1, trim_whitespace=False),
        max_length=MAX_SUGGESTIONS,
        required=False,
    )
    editable = serializers.BooleanField()
    applicationIds = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False
    )
    subscribedApplicationsIds = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "applicationIds" in attrs and "subscribedApplicationsIds" in attrs:
            raise serializers.ValidationError(
                {
                    "subscribedApplicationsIds": serializers.ErrorDetail(
                        "Send applicationIds or subscribedApplicationsIds, not both.",
                        code="duplicate",
                    )
                }
            )
        entity = attrs.get("entity")
        if attrs.get("eventType") and entity is not None and entity != AttributeEntity.EVENT:
            raise serializers.ValidationError(
                {
                    "eventType": serializers.ErrorDetail(
                        "Only an Event attribute has an event type.", code="not_an_event"
                    )
                }
            )
        return attrs


class AttributeSerializer(serializers.Serializer[Any]):
    """An attribute definition as answered (``render_attribute``, Talon.One's ``Attribute``)."""

    id = serializers.IntegerField()
    created = serializers.DateTimeField()
    accountId = serializers.IntegerField()
    entity = serializers.ChoiceField(choices=AttributeEntity.choices)
    eventType = serializers.CharField(required=False)
    name = serializers.CharField()
    title = serializers.CharField()
    type = serializers.ChoiceField(choices=AttributeType.choices)
    description = serializers.CharField(allow_blank=True)
    suggestions = serializers.ListField(child=serializers.CharField())
    hasAllowedList = serializers.BooleanField()
    restrictedBySuggestions = serializers.BooleanField()
    editable = serializers.BooleanField()
    applicationIds = serializers.ListField(child=serializers.IntegerField())
    subscribedApplicationsIds = serializers.ListField(child=serializers.IntegerField())

    class Meta:
        ref_name = "Attribute"


#: The query parameters of ``getAttributes``.
ATTRIBUTES_QUERY: Final = [
    *PAGE_PARAMETERS,
    OpenApiParameter(
        "sort",
        str,
        description="The field to sort by, with - in front for descending order: "
        + ", ".join(ATTRIBUTE_SORT_FIELDS)
        + ".",
    ),
    OpenApiParameter("entity", str, enum=AttributeEntity.values),
    OpenApiParameter("type", str, enum=AttributeType.values),
    OpenApiParameter("applicationIds", str, description="Application ids, separated by commas."),
    OpenApiParameter("kind", str, enum=["builtin", "custom"]),
    OpenApiParameter("search", str, description="Text in the name, title, description or type."),
]


def _valid(serializer: serializers.Serializer[Any]) -> dict[str, Any]:
    serializer.is_valid(raise_exception=True)
    data: dict[str, Any] = serializer.validated_data
    return data


def _invalid(pointer: str, details: str, *, code: str) -> BadRequest:
    item = ErrorItem(code=code, title="Invalid value", details=details, pointer=pointer)
    return BadRequest("The request is not valid.", [item], code=code)


def _application_ids(data: dict[str, Any]) -> tuple[str, list[int] | None]:
    """The field naming the applications, and the ids it holds (``None`` when not sent)."""
    for field in ("applicationIds", "subscribedApplicationsIds"):
        if field in data:
            return field, data[field]
    return "applicationIds", None


# ---------------------------------------------------------------------------------------------
# Answers


def render_attribute(definition: AttributeDefinition) -> dict[str, Any]:
    """``definition`` as Talon.One's ``Attribute`` (see the module)."""
    rendered: dict[str, Any] = {
        "id": definition.pk,
        "created": rfc3339(definition.created),
        "accountId": ACCOUNT_ID,
        "entity": definition.entity,
    }
    if definition.event_type:
        rendered["eventType"] = definition.event_type
    rendered.update(
        {
            "name": definition.name,
            "title": definition.title,
            "type": definition.type,
            "description": definition.description,
            "suggestions": list(definition.suggestions or []),
            "hasAllowedList": False,
            "restrictedBySuggestions": False,
            "editable": True,
            "applicationIds": [definition.application_id],
            "subscribedApplicationsIds": [definition.application_id],
        }
    )
    return rendered


def _conflict(pointer: str, details: str, *, code: str) -> Conflict:
    item = ErrorItem(code=code, title="Duplicate attribute", details=details, pointer=pointer)
    return Conflict(details, [item], code=code)


def _uniqueness_check(
    *, application_id: int, entity: str, name: str, title: str, exclude: int | None = None
) -> None:
    """A 409 when the entity of the application already has an attribute of this name or
    title."""
    others = AttributeDefinition.objects.filter(application_id=application_id, entity=entity)
    if exclude is not None:
        others = others.exclude(pk=exclude)
    if others.filter(name=name).exists():
        raise _name_taken(entity, name)
    if others.filter(title=title).exists():
        raise _conflict(
            "/title",
            f"The application already has a {entity} attribute titled {title!r}.",
            code="attribute_title_exists",
        )


def _name_taken(entity: str, name: str) -> Conflict:
    return _conflict(
        "/name",
        f"The application already has a {entity} attribute named {name!r}.",
        code="attribute_exists",
    )


# ---------------------------------------------------------------------------------------------
# Filters of getAttributes


def _attributes_filtered(
    request: Request, definitions: QuerySet[AttributeDefinition]
) -> QuerySet[AttributeDefinition]:
    """``definitions`` narrowed by ``getAttributes``' query parameters; ``BadRequest`` naming
    every parameter that is not valid."""
    params = request.query_params
    problems: list[ErrorItem] = []
    entity = params.get("entity")
    if entity:
        if entity in AttributeEntity.values:
            definitions = definitions.filter(entity=entity)
        else:
            problems.append(
                query_problem("entity", f"entity may be one of {', '.join(AttributeEntity)}.")
            )
    type_name = params.get("type")
    if type_name:
        if type_name in AttributeType.values:
            definitions = definitions.filter(type=type_name)
        else:
            problems.append(
                query_problem("type", f"type may be one of {', '.join(AttributeType)}.")
            )
    ids_text = params.get("applicationIds")
    if ids_text:
        parts = [part.strip() for part in ids_text.split(",")]
        if all(part.isascii() and part.isdigit() and len(part) <= 18 for part in parts):
            definitions = definitions.filter(application_id__in=[int(part) for part in parts])
        else:
            problems.append(
                query_problem(
                    "applicationIds", "applicationIds is a comma-separated list of whole numbers."
                )
            )
    kind = params.get("kind")
    if kind:
        if kind == "builtin":
            definitions = definitions.none()
        elif kind != "custom":
            problems.append(query_problem("kind", "kind may be builtin or custom."))
    search = params.get("search")
    if search:
        definitions = definitions.filter(
            Q(name__icontains=search)
            | Q(title__icontains=search)
            | Q(description__icontains=search)
            | Q(type__icontains=search)
        )
    if problems:
        raise BadRequest("The query parameters are not valid.", problems)
    return definitions


# ---------------------------------------------------------------------------------------------
# Views


class AttributesView(ManagementView):
    operation = {"GET": "getAttributes", "POST": "createAttribute"}

    @extend_schema(parameters=ATTRIBUTES_QUERY, responses={200: page_of(AttributeSerializer)})
    def get(self, request: Request) -> Response:
        definitions = AttributeDefinition.objects.filter(
            application__in=applications_visible(self.caller)
        )
        page = paginate(
            request,
            _attributes_filtered(request, definitions),
            sortable=ATTRIBUTE_SORT_FIELDS,
            render=render_attribute,
        )
        return Response(page)

    @extend_schema(request=AttributeInput, responses={201: AttributeSerializer})
    def post(self, request: Request) -> Response:
        data = _valid(AttributeInput(data=request.data))
        application = self._editable_application(data)
        _uniqueness_check(
            application_id=application.pk,
            entity=data["entity"],
            name=data["name"],
            title=data["title"],
        )
        try:
            with transaction.atomic():
                definition = AttributeDefinition.objects.create(
                    application=application,
                    entity=data["entity"],
                    event_type=data.get("eventType", ""),
                    name=data["name"],
                    title=data["title"],
                    type=data["type"],
                    description=data["description"],
                    suggestions=data.get("suggestions", []),
                )
                applications_rules_changed(application_ids=[application.pk])
        except IntegrityError:
            # A concurrent request defined the same name first.
            raise _name_taken(data["entity"], data["name"]) from None
        return Response(render_attribute(definition), status=201)

    def _editable_application(self, data: dict[str, Any]) -> Application:
        """The one application the body names, if the caller may edit it; a 400 otherwise."""
        field, ids = _application_ids(data)
        if ids is None or len(ids) != 1:
            raise _invalid(
                f"/{field}",
                "Name exactly one application: here an attribute belongs to one application.",
                code="one_application_required",
            )
        application_id = ids[0]
        application = applications_visible(self.caller).filter(pk=application_id).first()
        caller = self.caller
        # A management key may do what its endpoints allow; a user needs the editor role.
        if (
            application is not None
            and not isinstance(caller, ManagementKey)
            and not role_allows(role_in(caller, application), Role.EDITOR)
        ):
            application = None
        if application is None:
            raise _invalid(
                f"/{field}/0",
                f"There is no application {application_id} you may edit.",
                code="application_not_editable",
            )
        return application


class AttributeView(ManagementView):
    operation = {"GET": "getAttribute", "PUT": "updateAttribute"}

    def attribute_for(self, attribute_id: int, *, role: str) -> AttributeDefinition:
        """The definition ``attribute_id`` of an application the caller may see: a 404
        otherwise; a 403 when their role there is below ``role``."""
        definition = None
        if 0 < attribute_id <= MAX_ID:
            definition = (
                AttributeDefinition.objects.filter(
                    application__in=applications_visible(self.caller), pk=attribute_id
                )
                .select_related("application")
                .first()
            )
        if definition is None:
            raise NotFound(f"There is no attribute {attribute_id}.", code="attribute_not_found")
        self.application_for(definition.application_id, role=role)
        return definition

    @extend_schema(responses={200: AttributeSerializer})
    def get(self, request: Request, attribute_id: int) -> Response:
        return Response(render_attribute(self.attribute_for(attribute_id, role=Role.VIEWER)))

    @extend_schema(request=AttributeInput(partial=True), responses={200: AttributeSerializer})
    def put(self, request: Request, attribute_id: int) -> Response:
        definition = self.attribute_for(attribute_id, role=Role.EDITOR)
        data = _valid(AttributeInput(data=request.data, partial=True))
        for field, model_field in _FIXED_FIELDS.items():
            if field in data and data[field] != getattr(definition, model_field):
                raise _invalid(
                    f"/{field}",
                    f"The {field} of an attribute cannot change: create a new attribute.",
                    code="attribute_field_fixed",
                )
        field, ids = _application_ids(data)
        if ids is not None and ids != [definition.application_id]:
            raise _invalid(
                f"/{field}",
                "The application of an attribute cannot change: create a new attribute.",
                code="attribute_field_fixed",
            )
        title = data.get("title", definition.title)
        _uniqueness_check(
            application_id=definition.application_id,
            entity=definition.entity,
            name=definition.name,
            title=title,
            exclude=definition.pk,
        )
        definition.title = title
        definition.description = data.get("description", definition.description)
        definition.suggestions = data.get("suggestions", definition.suggestions)
        with transaction.atomic():
            definition.save(update_fields=["title", "description", "suggestions"])
            applications_rules_changed(application_ids=[definition.application_id])
        return Response(render_attribute(definition))
