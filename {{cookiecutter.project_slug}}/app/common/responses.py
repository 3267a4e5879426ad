"""The error body in the OpenAPI document: every operation lists each error status it can answer with, all with the
one body the app sends (ErrorResponse), so a client generated from the schema can read every error.

The statuses follow from the operation itself: 500 everywhere, 422 where it takes parameters or a body (instead of
FastAPI's default model, which the app never sends), 400 where it takes a body (unreadable bodies), 404 where its
path names a resource, 401 where it needs an identity and 403 where it needs scopes. A route that answers with
another error status declares it as usual, with a description only (e.g.
`responses={409: {"description": messages.TAKEN}}`) and any headers; the body is added here. The 503 of routes that
need the database is declared that way by app/api/database_unavailable.py.
"""

import json
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from app.common import messages

# The models are built when the OpenAPI document is, never during start-up (Lambda's cold start).
BUILD_WHEN_USED = ConfigDict(defer_build=True)
ERROR_RESPONSE_REF = "#/components/schemas/ErrorResponse"
# Statuses whose meaning is the same on every route of this app.
STATUS_DESCRIPTIONS = {
    400: messages.MALFORMED_BODY,
{%- if cookiecutter.api_auth == "jwt" %}
    401: messages.NOT_AUTHENTICATED,
    403: messages.MISSING_SCOPE_DESCRIPTION,
{%- endif %}
    404: messages.NOT_FOUND,
    422: messages.VALIDATION_FAILED,
    500: messages.INTERNAL_ERROR,
}
# Headers an error status always carries.
STATUS_HEADERS = {
    401: {
        "WWW-Authenticate": {
            "description": 'How to authenticate: Bearer; with error="invalid_token" when the token sent was refused.',
            "schema": {"type": "string"},
        }
    },
    403: {"WWW-Authenticate": {"description": "The scopes the token lacks.", "schema": {"type": "string"}}},
}
# FastAPI's own 422 models, dropped from the document once nothing refers to them.
FASTAPI_VALIDATION_MODELS = ("HTTPValidationError", "ValidationError")


class ErrorDetail(BaseModel):
    """One problem with the request, such as one invalid field."""

    model_config = BUILD_WHEN_USED

    location: list[str | int] = Field(description='Where the problem is, e.g. ["body", "title"].')
    message: str = Field(description="What is wrong, for people.")
    type: str = Field(description="The kind of problem, for programs, e.g. missing or string_too_long.")


class ErrorInfo(BaseModel):
    """What went wrong."""

    model_config = BUILD_WHEN_USED

    code: str = Field(description="Stable, for programs, e.g. validation_error, not_found, internal_error.")
    message: str = Field(description="For people, in the language the API was generated with.")
    details: list[ErrorDetail] = Field(description="One entry per problem (validation errors); often empty.")


class ErrorResponse(BaseModel):
    """The body of every error response."""

    model_config = BUILD_WHEN_USED

    error: ErrorInfo


def inferred_error_statuses(operation: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer with, read from what it takes."""
    parameters = operation.get("parameters", [])
    takes_body = "requestBody" in operation
    statuses = {500}
    # A route that needs an identity answers 401 without one, and 403 when its token lacks a scope it lists.
    requirements = operation.get("security", [])
    if requirements:
        statuses.add(401)
    if any(scopes for requirement in requirements for scopes in requirement.values()):
        statuses.add(403)
    if parameters or takes_body:
        statuses.add(422)
    if takes_body:
        statuses.add(400)
    if any(parameter.get("in") == "path" for parameter in parameters):
        statuses.add(404)
    return statuses


def add_error_responses(document: dict[str, Any]) -> None:
    """Give every operation of an OpenAPI document its error statuses, each with the ErrorResponse body."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorResponse"] = error_schema
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            declared = {int(status) for status in responses if status.isdigit() and int(status) >= 400}
            for status in sorted(declared | inferred_error_statuses(operation)):
                declared_response = responses.get(str(status), {})
                description = STATUS_DESCRIPTIONS.get(status) or declared_response.get("description")
                responses[str(status)] = {
                    "description": description or "Error",
                    # Headers the route declares stay published, e.g. a 503's Retry-After.
                    **({"headers": declared_response["headers"]} if "headers" in declared_response else {}),
                    **({"headers": STATUS_HEADERS[status]} if status in STATUS_HEADERS else {}),
                    "content": {"application/json": {"schema": {"$ref": ERROR_RESPONSE_REF}}},
                }
            # Success first, then the errors in order, as a reader of /docs expects.
            operation["responses"] = dict(sorted(responses.items()))
    # In this order: HTTPValidationError refers to ValidationError.
    for name in FASTAPI_VALIDATION_MODELS:
        if f'"#/components/schemas/{name}"' not in json.dumps(document):
            schemas.pop(name, None)


def document_error_responses(app: FastAPI) -> None:
    """Make app's OpenAPI document (GET /openapi.json, /docs) publish the error body for every error status."""
    build_document = app.openapi
    last_documented: dict[str, Any] | None = None

    def openapi() -> dict[str, Any]:
        nonlocal last_documented
        # FastAPI caches the document and builds it again when routes change; each new build is documented once.
        document = build_document()
        if document is not last_documented:
            add_error_responses(document)
            last_documented = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
