"""The types and form conventions of config fields, and `Section`, the base of every config section.

    from nngpt_core.config_fields import Device, SampleCount, Section, optional
    class MySection(Section):
        device: Device = Field("auto", description="...")                 # auto, cpu, cuda or cuda:N
        limit: optional(int, "samples", "all", minimum=1) = Field(None, description="...; empty = all.")

Every field has a default and a one-line description (shown as a form in the Prefect UI: choices
are selects, lists show their defaults, a field that may be empty names both of its forms:
`optional`). nngpt_core.config re-exports all of it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def _check_device(value: str) -> str:
    if not DEVICE_PATTERN.match(value):
        raise ValueError(f"unknown device '{value}': use auto, cpu, cuda or cuda:N")
    return value


# auto (resolved where the work runs), cpu, cuda or cuda:N; the form offers a select of the first
# three and, switched over, a text field for one GPU of several
Device = Annotated[str, AfterValidator(_check_device), WithJsonSchema({"anyOf": [
    {"type": "string", "enum": ["auto", "cpu", "cuda"], "title": "device"},
    {"type": "string", "pattern": r"^cuda:\d+$", "title": "cuda:N"},
]})]

# Words of field names that Prefect's form would otherwise title "Sft", "Timeout S" or "Load In 4Bit".
_TITLE_WORDS = {"sft": "SFT", "lsh": "LSH", "sql": "SQL", "url": "URL", "flops": "FLOPs", "4bit": "4-bit", "lm": "LM"}
_TITLE_UNITS = {"s": "in s", "mb": "in MiB", "kb": "in KiB"}  # Prefect appends "(Optional)"


def field_title(name: str, _info: FieldInfo | None = None) -> str:
    """The form label of a field: timeout_s -> 'Timeout in s', sft -> 'SFT', load_in_4bit -> 'Load in 4-bit'."""
    words = name.split("_")
    unit = _TITLE_UNITS.get(words[-1]) if len(words) > 1 else None
    text = " ".join(_TITLE_WORDS.get(word, word) for word in (words[:-1] if unit else words))
    return f"{text[:1].upper()}{text[1:]}" + (f" {unit}" if unit else "")


def _show_factory_defaults(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Put the defaults that default_factory makes (lists, dicts, sections) into the JSON schema, so that
    the form shows them and resets to them (pydantic leaves them out)."""
    for name, info in model.model_fields.items():
        if info.default_factory is not None and name in schema.get("properties", {}):
            schema["properties"][name]["default"] = to_jsonable_python(info.default_factory())


def optional(kind: type, value: str, empty: str, minimum: int | None = None) -> Any:
    """The type `kind | None` (at least `minimum`) whose form switch names its two forms: "samples | all"
    where Prefect would show "int | None"."""
    json_type = {int: "integer", float: "number", str: "string"}[kind]
    bounded = kind if minimum is None else Annotated[kind, Field(ge=minimum)]
    bounds = {} if minimum is None else {"minimum": minimum}
    return Annotated[bounded | None, WithJsonSchema({"anyOf": [
        {"type": json_type, **bounds, "title": value}, {"type": "null", "title": empty},
    ]})]


SampleCount = optional(int, "samples", "all", minimum=1)


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, field_title_generator=field_title,
                              json_schema_extra=_show_factory_defaults)
