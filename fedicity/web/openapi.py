"""/openapi.json: the JSON API described by quart-schema from the routes' pydantic models.

Only the `/api/` routes are in it (`ApiDocument.generate_rules` filters the app's rules by path,
leaving out Mastodon's domain_blocks):
the HTML pages, ActivityPub, WebFinger and admin routes are not an API for third parties. No
Swagger, Redoc or Scalar page is served: they load their scripts from CDNs, which our
Content-Security-Policy forbids and which would tell those CDNs who reads the documentation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pydantic import BaseModel
from quart import Quart, Response
from quart_schema import QuartSchema
from quart_schema.openapi import (
    QUART_SCHEMA_SECURITY_ATTRIBUTE,
    Info,
    OpenAPIProvider,
)
from quart_schema.validation import (
    QUART_SCHEMA_QUERYSTRING_ATTRIBUTE,
    QUART_SCHEMA_REQUEST_ATTRIBUTE,
    QUART_SCHEMA_RESPONSE_ATTRIBUTE,
    DataSource,
)
from werkzeug.routing.rules import Rule

from fedicity.settings import ETALAB_LICENCE
from fedicity.web.api_models import ProblemDocument
from fedicity.web.app import for_programs, state
from fedicity.web.errors import PROBLEM_JSON

View = TypeVar("View", bound=Callable[..., object])
API_PREFIX = "/api/"
# Mastodon's own API, served for its clients and documented by Mastodon (web/transparency.py).
MASTODON_PATHS = ("/api/v1/instance/",)
API_VERSION = "1.0.0"
ETALAB_LICENCE_NAME = "Licence Ouverte 2.0 (Etalab)"
DESCRIPTION = """\
**Français.** L'API de cette instance fedicity : ce qui se passe dans ses territoires
(événements, organisations, propositions, lieux), en lecture pour tous (CORS ouvert), et en
écriture avec un jeton personnel créé dans les réglages (`Authorization: Bearer …`). Les données
publiques sont sous la licence de `info.license`, celle du catalogue des données ouvertes.

**English.** This fedicity instance's API: what happens in its territories (events,
organizations, proposals, places), readable by anyone (open CORS), and writable with a personal
token made in the settings (`Authorization: Bearer …`). Public data is under the licence in
`info.license`, the open-data catalogue's."""
# The statuses every operation may answer with a problem document.
_COMMON_PROBLEMS = (400,)


def documented(
    *,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    responses: dict[int, type[BaseModel]],
    problems: Iterable[int] = (),
    bearer: bool = False,
) -> Callable[[View], View]:
    """Describe a view for the document (under its route decorator): its query string, JSON body,
    responses and the statuses it refuses with. The view reads its request itself (web/api.py),
    with the same models."""

    def mark(view: View) -> View:
        if query is not None:
            setattr(view, QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, query)
        if body is not None:
            setattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE, (body, DataSource.JSON))
        answers: dict[int, tuple[type[BaseModel], None]] = {
            status: (model, None) for status, model in responses.items()
        }
        for status in (*_COMMON_PROBLEMS, *problems):
            answers.setdefault(status, (ProblemDocument, None))
        setattr(view, QUART_SCHEMA_RESPONSE_ATTRIBUTE, answers)
        if bearer:
            setattr(view, QUART_SCHEMA_SECURITY_ATTRIBUTE, [{"bearer": []}])
        return view

    return mark


class ApiDocument(OpenAPIProvider):
    """The document of the `/api/` routes only, refusals as problem documents."""

    def generate_rules(self) -> Iterable[Rule]:
        """The API's rules, and nothing else the app serves."""
        return (
            rule
            for rule in super().generate_rules()
            if rule.rule.startswith(API_PREFIX) and not rule.rule.startswith(MASTODON_PATHS)
        )

    def build_response_object(
        self, model: Any, headers_model: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A response as quart-schema builds it; a refusal's as application/problem+json."""
        response, components = super().build_response_object(model, headers_model)
        if model is ProblemDocument:
            response["content"] = {PROBLEM_JSON: response["content"]["application/json"]}
        return response, components

    def generate_methods(self, rule: Rule) -> Iterable[str]:
        """The methods the route takes (OPTIONS and HEAD are Quart's own)."""
        return (method for method in super().generate_methods(rule) if method != "OPTIONS")


def licence(url: str) -> dict[str, str]:
    """The document's licence: FEDICITY_OPEN_DATA_LICENCE, as the DCAT catalogue gives it."""
    return {"name": ETALAB_LICENCE_NAME if url == ETALAB_LICENCE else url, "url": url}


def install(app: Quart) -> None:
    """Describe the API at /openapi.json (built once, on its first request)."""
    schema = QuartSchema(
        openapi_path="/openapi.json",
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=None,
        info=Info(
            title="fedicity API",
            version=API_VERSION,
            description=DESCRIPTION,
        ),
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        conversion_preference="pydantic",
        openapi_provider_class=ApiDocument,
    )
    make_response = app.make_response
    test_client_class = app.test_client_class
    schema.init_app(app)
    # init_app wraps make_response to turn returned models into JSON; our views return their
    # Responses themselves, so the wrapper would only add a pass to every response of the app.
    app.make_response = make_response  # type: ignore[method-assign]
    # Its test client passes forms through pydantic, which cannot read a MultiDict (a form with
    # a repeated field); nothing here posts models, so Quart's own client stays.
    app.test_client_class = test_client_class
    built: list[bytes] = []

    @for_programs
    async def openapi_document() -> Response:
        """The OpenAPI document of the JSON API."""
        if not built:
            document = schema.openapi_provider.schema()
            document["info"]["license"] = licence(state().settings.open_data_licence)
            built.append(json.dumps(document).encode())
        response = Response(built[0], content_type="application/json")
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    app.view_functions["openapi"] = openapi_document
