"""The Python models against the server's own /openapi.json: a field, a required flag, an enum value or
a bound the document declares and the models do not (or declare otherwise) fails here.

The document is what the server promises. Where it promises something, the models must say the same:
every property it declares, with its required-ness, its enum and (for request bodies) its bounds; a
request body the models would send with a field the document does not accept fails too. Where the
document promises nothing yet — no schema for a response, an untyped `{type: object}`, a property the
server sends that the document leaves out — the test warns (pytest's warnings summary names each one)
and checks it as soon as the document types it."""

from __future__ import annotations

import warnings
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from conftest import live
from countersign.models import ConsumeBody, EvidenceView, Problem, ReportBody, RequestList, SignedReceipt, SubmitBody, SubmitState, Whoami

# (model, where the document says it, request body or response)
CHECKED: list[tuple[type[BaseModel], tuple[str, ...], str]] = [
    (SubmitBody, ("post", "/v1/requests", "request"), "request"),
    (ConsumeBody, ("post", "/v1/requests/{id}/consume", "request"), "request"),
    (ReportBody, ("post", "/v1/requests/{id}/report", "request"), "request"),
    (SubmitState, ("post", "/v1/requests", "200"), "response"),
    (SubmitState, ("get", "/v1/requests/{id}", "200"), "response"),
    (RequestList, ("get", "/v1/requests", "200"), "response"),
    (SignedReceipt, ("post", "/v1/requests/{id}/consume", "200"), "response"),
    (EvidenceView, ("get", "/v1/requests/{id}/evidence", "200"), "response"),
    (Whoami, ("get", "/v1/whoami", "200"), "response"),
    (Problem, ("post", "/v1/requests", "409"), "response"),
]
BOUNDS = ("maxLength", "minLength", "pattern", "maximum", "minimum")


class DocumentGap(UserWarning):
    """Something the Python models know that the server's document does not say yet."""


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    response = httpx.get(f"{live('COUNTERSIGN_URL')}/openapi.json", timeout=30)
    response.raise_for_status()
    doc: dict[str, Any] = response.json()
    assert doc["openapi"].startswith("3.")
    return doc


def _resolve(schema: Any, root: dict[str, Any]) -> Any:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 32:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        seen += 1
    return schema


def _unwrap(schema: Any, root: dict[str, Any]) -> Any:
    """One schema from `anyOf: [X, {type: null}]` (an optional field), refs resolved."""
    schema = _resolve(schema, root)
    if isinstance(schema, dict) and "anyOf" in schema:
        options = [o for o in schema["anyOf"] if _resolve(o, root) != {"type": "null"}]
        if len(options) == 1:
            return {**_resolve(options[0], root), **{k: v for k, v in schema.items() if k not in ("anyOf", "default")}}
    return schema


def _enum(schema: dict[str, Any]) -> set[Any] | None:
    if "enum" in schema:
        return set(schema["enum"])
    if "const" in schema:
        return {schema["const"]}
    return None


def _untyped(schema: Any) -> bool:
    return not isinstance(schema, dict) or not any(k in schema for k in ("properties", "enum", "const", "items", "anyOf", "oneOf", "pattern")) and schema.get("type") in (None, "object")


def compare(doc: Any, model: Any, where: str, doc_root: dict[str, Any], model_root: dict[str, Any], mode: str, drift: list[str], gaps: list[str]) -> None:
    doc, model = _unwrap(doc, doc_root), _unwrap(model, model_root)
    if _untyped(doc):
        if not _untyped(model):
            gaps.append(f"{where}: untyped in the document")
        return
    doc_enum, model_enum = _enum(doc), _enum(model)
    if doc_enum is not None and doc_enum != model_enum:
        drift.append(f"{where}: the document allows {sorted(doc_enum, key=str)}, the model {sorted(model_enum or [], key=str)}")
    if mode == "request":
        for bound in BOUNDS:
            if bound in doc and doc[bound] != model.get(bound):
                drift.append(f"{where}: {bound} is {doc[bound]!r} in the document, {model.get(bound)!r} in the model")
    if "items" in doc:
        compare(doc["items"], model.get("items", {}), f"{where}[]", doc_root, model_root, mode, drift, gaps)
    if "properties" not in doc:
        return
    doc_props, model_props = doc["properties"], model.get("properties", {})
    for name in sorted(set(doc_props) - set(model_props)):
        drift.append(f"{where}.{name}: in the document, not in the model")
    for name in sorted(set(model_props) - set(doc_props)):
        if mode == "request" or name in model.get("required", []):
            drift.append(f"{where}.{name}: in the model, not in the document")
        else:
            gaps.append(f"{where}.{name}: the server sends it, the document does not declare it")
    doc_required, model_required = set(doc.get("required", [])), set(model.get("required", []))
    for name in sorted((doc_required ^ model_required) & set(doc_props) & set(model_props)):
        drift.append(f"{where}.{name}: required {'in the document' if name in doc_required else 'in the model'} only")
    for name in sorted(set(doc_props) & set(model_props)):
        compare(doc_props[name], model_props[name], f"{where}.{name}", doc_root, model_root, mode, drift, gaps)


def _located(document: dict[str, Any], method: str, path: str, what: str) -> Any:
    operation = document.get("paths", {}).get(path, {}).get(method)
    if operation is None:
        return None
    if what == "request":
        body = operation.get("requestBody", {})
    else:
        body = operation.get("responses", {}).get(what, {})
    content = _resolve(body, document).get("content", {})
    media = content.get("application/json") or content.get("application/problem+json") or {}
    return media.get("schema")


@pytest.mark.parametrize(("model", "where", "mode"), CHECKED, ids=[f"{m.__name__}@{' '.join(w)}" for m, w, _ in CHECKED])
def test_the_models_say_what_the_document_says(document: dict[str, Any], model: type[BaseModel], where: tuple[str, str, str], mode: str) -> None:
    method, path, what = where
    label = f"{method.upper()} {path} {what}"
    doc_schema = _located(document, method, path, what)
    model_schema = model.model_json_schema(by_alias=True, mode="validation" if mode == "request" else "serialization")
    drift: list[str] = []
    gaps: list[str] = []
    if doc_schema is None:
        gaps.append(f"{label}: the document has no schema for it")
    else:
        compare(doc_schema, model_schema, f"{label} ({model.__name__})", document, model_schema, mode, drift, gaps)
    for gap in gaps:
        warnings.warn(DocumentGap(gap), stacklevel=1)
    assert not drift, "the Python models and the server's /openapi.json disagree:\n" + "\n".join(drift)


def test_every_reason_code_the_document_names_is_one_the_client_knows(document: dict[str, Any]) -> None:
    from countersign.models import REASON_CODES

    codes: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("title") == "ReasonCode" or ("enum" in node and "POLICY_DENIED" in node.get("enum", [])):
                codes.update(node["enum"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    if not codes:
        warnings.warn(DocumentGap("the document lists no reason codes yet"), stacklevel=1)
    assert codes <= set(REASON_CODES), f"reason codes the client does not know: {sorted(codes - set(REASON_CODES))}"


def test_the_comparison_catches_drift() -> None:
    """The check itself: a renamed field, a lost required flag, a new enum value and a changed bound are each reported."""
    doc = {"type": "object", "required": ["a", "b"], "properties": {"a": {"type": "string", "maxLength": 5}, "b": {"enum": ["x", "y"]}, "c": {"type": "string"}}}
    model = {"type": "object", "required": ["a"], "properties": {"a": {"type": "string", "maxLength": 6}, "b": {"enum": ["x"]}, "d": {"type": "string"}}}
    drift: list[str] = []
    compare(doc, model, "T", {}, {}, "request", drift, [])
    assert drift == [
        "T.c: in the document, not in the model",
        "T.d: in the model, not in the document",
        "T.b: required in the document only",
        "T.a: maxLength is 5 in the document, 6 in the model",
        "T.b: the document allows ['x', 'y'], the model ['x']",
    ]
