"""What the OpenAPI schemas document, for tests that check an answer against them (as the
contract tests, ``tests/test_schemathesis.py``, do for generated requests)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from django.test import Client


def openapi(client: Client, api: str = "management") -> dict[str, Any]:
    """The schema of ``api`` (``management`` or ``integration``) as it is served."""
    response = client.get(f"/openapi/{api}.json")
    assert response.status_code == 200
    schema: dict[str, Any] = json.loads(response.content)
    return schema


def documented_answer(
    document: dict[str, Any], path: str, method: str, status: int = 200
) -> dict[str, Any]:
    """The documented answer (``{media type: {schema}}``) of ``method path`` with ``status``."""
    answer: dict[str, Any] = document["paths"][path][method]["responses"][str(status)]
    content: dict[str, Any] = answer["content"]
    return content


def assert_conforms(
    document: dict[str, Any], path: str, method: str, body: Any, status: int = 200
) -> None:
    """``body`` is valid against the JSON answer documented for ``method path``."""
    schema = documented_answer(document, path, method, status)["application/json"]["schema"]
    root = _json_schema({**schema, "components": document["components"]})
    jsonschema.Draft4Validator(root).validate(body)  # OpenAPI 3.0 builds on draft 4


def _json_schema(schema: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` as JSON Schema's ``null`` type."""
    if isinstance(schema, list):
        return [_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: _json_schema(value) for key, value in schema.items()}
    if converted.pop("nullable", False) and "type" in converted:
        converted["type"] = [converted["type"], "null"]
    return converted
