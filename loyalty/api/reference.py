"""The API's reference as a page: ``GET /api/v1/docs``, drawn from the same OpenAPI
description as ``/api/v1/openapi.json``, on the server, with no script and nothing
from another host (till builders read it on the shop's own network)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, current_app, render_template

bp = Blueprint("api_reference", __name__, template_folder="templates")

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class Field:
    name: str
    type: str
    required: bool
    description: str


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    description: str
    anchor: str
    authenticated: bool
    parameters: list[Field] = field(default_factory=list)
    body: list[Field] = field(default_factory=list)
    responses: list[tuple[str, str]] = field(default_factory=list)


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        return dict(spec["components"]["schemas"][ref.rsplit("/", 1)[1]])
    return schema


def _type(spec: dict[str, Any], schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    if schema.get("type") == "array":
        return f"array of {_type(spec, schema.get('items', {}))}"
    kind = str(schema.get("type", "object"))
    return f"{kind} ({schema['format']})" if "format" in schema else kind


def _fields(spec: dict[str, Any], schema: dict[str, Any]) -> list[Field]:
    schema = _resolve(spec, schema)
    required = set(schema.get("required", []))
    return [
        Field(name, _type(spec, prop), name in required,
              str(prop.get("description", "")))
        for name, prop in schema.get("properties", {}).items()
    ]


def _anchor(method: str, path: str) -> str:
    """"post-api-v1-claims-token-claim": a fragment id for an operation."""
    plain = path.strip("/").replace("/", "-").replace("{", "").replace("}", "")
    return f"{method}-{plain}"


def operations(spec: dict[str, Any]) -> list[tuple[str, list[Operation]]]:
    """The operations of the description, grouped by tag, in the description's order."""
    groups: dict[str, list[Operation]] = {}
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            found = Operation(
                method=method.upper(), path=path, summary=str(op.get("summary", "")),
                description=str(op.get("description", "")),
                anchor=_anchor(method, path),
                authenticated=bool(op.get("security")),
            )
            for parameter in op.get("parameters", []):
                found.parameters.append(Field(
                    f"{parameter['name']} ({parameter['in']})",
                    _type(spec, parameter.get("schema", {})), bool(parameter.get("required")),
                    str(parameter.get("description", ""))))
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                found.body = _fields(spec, content["application/json"].get("schema", {}))
            found.responses = [(code, str(answer.get("description", "")))
                               for code, answer in op.get("responses", {}).items()]
            for tag in op.get("tags", ["other"]):
                groups.setdefault(tag, []).append(found)
    return list(groups.items())


@bp.get("/docs")
def reference() -> Any:
    spec = current_app.extensions["loyalty.api"].spec.to_dict()
    return render_template("api/reference.html", info=spec.get("info", {}),
                           groups=operations(spec))
