"""``/v1/sessions``: log in for a bearer token (``createSession``), log out (``destroySession``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from integration.errors import ErrorItem, Unauthorized
from integration.render import rfc3339
from management.models import ManagementToken
from management.services import (
    MAX_PASSWORD_LENGTH,
    InvalidCredentials,
    LoginLocked,
    session_create,
    session_revoke,
)
from management.views import Forbidden, ManagementView, TooManyRequests

if TYPE_CHECKING:
    from rest_framework.permissions import _SupportsHasPermission


class SessionRequestSerializer(serializers.Serializer[Any]):
    """The body of ``createSession``."""

    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(
        max_length=MAX_PASSWORD_LENGTH, trim_whitespace=False, allow_blank=True
    )


class SessionSerializer(serializers.Serializer[Any]):
    """The answer of ``createSession`` (Talon.One's ``Session``)."""

    userId = serializers.IntegerField()
    token = serializers.CharField(help_text="The bearer token: `Authorization: Bearer <token>`.")
    created = serializers.DateTimeField()

    class Meta:
        ref_name = "Session"


class SessionsView(ManagementView):
    """``POST /v1/sessions`` takes an email and a password, no credentials; ``DELETE`` ends the
    session of the bearer token it is sent with."""

    operation = {"POST": "createSession", "DELETE": "destroySession"}

    def get_authenticators(self) -> list[BaseAuthentication]:
        # A login carries no credentials: a stale token sent along must not refuse it. (The
        # schema generator asks before the view has a request.)
        request = getattr(self, "request", None)
        if request is not None and request.method == "POST":
            return []
        return super().get_authenticators()

    def get_permissions(self) -> Sequence[_SupportsHasPermission]:
        if self.request.method == "POST":
            return [AllowAny()]
        return super().get_permissions()

    @extend_schema(request=SessionRequestSerializer, responses={201: SessionSerializer})
    def post(self, request: Request) -> Response:
        serializer = SessionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user, raw_token, token = session_create(
                email=serializer.validated_data["email"],
                password=serializer.validated_data["password"],
            )
        except LoginLocked as locked:
            item = ErrorItem(
                code="too_many_failed_logins",
                title="Too many failed logins",
                details=f"This email has had too many failed logins: try again in "
                f"{locked.retry_after} seconds.",
                pointer="/email",
            )
            raise TooManyRequests(
                "Too many failed logins.",
                (item,),
                wait=locked.retry_after,
                code="too_many_failed_logins",
            ) from None
        except InvalidCredentials:
            item = ErrorItem(
                code="invalid_credentials",
                title="Unauthorized",
                details="The email and password do not match an active user.",
                pointer="",
            )
            raise Unauthorized(
                "Invalid email or password.", [item], code="invalid_credentials"
            ) from None
        body = {"userId": user.pk, "token": raw_token, "created": rfc3339(token.created)}
        return Response(body, status=201)

    @extend_schema(responses={204: None})
    def delete(self, request: Request) -> Response:
        if not isinstance(request.auth, ManagementToken):
            raise Forbidden(
                "Only a session's bearer token can end its session.", code="not_a_session"
            )
        session_revoke(token=request.auth)
        return Response(status=204)
