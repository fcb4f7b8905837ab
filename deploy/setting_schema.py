"""The JSON Schema of one pydantic settings field (type, bounds, default, description), for the Helm chart's
values.schema.json (deploy/k8s/values_schema.py)."""

import types
import typing
from pathlib import Path

import annotated_types
from pydantic.fields import FieldInfo


def _json_default(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    return str(value)


def _types(annotation: object) -> tuple[list[str], list | None]:
    """JSON types a value may take in values.yaml (strings always: every env value becomes one), and an enum."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        kinds: list[str] = []
        enum: list | None = None
        for arg in args:
            arg_kinds, arg_enum = _types(arg)
            kinds += [k for k in arg_kinds if k not in kinds]
            enum = arg_enum if arg_enum is not None else enum
        return kinds, (enum + [None] if enum is not None and "null" in kinds else enum)
    if annotation is type(None):
        return ["null"], None
    if origin is typing.Literal:
        return ["string"], list(args)
    if annotation is bool:
        return ["boolean", "string"], None
    if annotation is int:
        return ["integer", "string"], None
    if annotation is float:
        return ["number", "string"], None
    if origin in (list, dict) or annotation in (list, dict):
        return ["array" if (origin or annotation) is list else "object", "string"], None
    return ["string"], None


def field_schema(field: FieldInfo) -> dict:
    kinds, enum = _types(field.annotation)
    schema: dict = {"description": field.description or ""}
    if "null" not in kinds:
        kinds.append("null")  # null in values: leave the setting at its default
    schema["type"] = kinds
    if enum is not None:
        schema["enum"] = [*enum, None] if None not in enum else enum
    for meta in field.metadata:
        if isinstance(meta, annotated_types.Ge):
            schema["minimum"] = meta.ge
        elif isinstance(meta, annotated_types.Gt):
            schema["exclusiveMinimum"] = meta.gt
        elif isinstance(meta, annotated_types.Le):
            schema["maximum"] = meta.le
        elif isinstance(meta, annotated_types.Lt):
            schema["exclusiveMaximum"] = meta.lt
    if not field.is_required() and field.default_factory is None:
        default = _json_default(field.default)
        if default is not None and not hasattr(field.default, "get_secret_value"):
            schema["default"] = default
    return schema
