"""`nngpt config show [--docs]`: the effective run config as YAML, with every field documented on request.

    nngpt config show                              # the built-in defaults
    nngpt config show --config configs/smoke.yaml  # that file on top of them (NNGPT_DATABASE_URL and --db too)
    nngpt config show --docs > my-run.yaml         # each field with its description, type and default as comments

The output is valid YAML that `nngpt run --config` reads back. A database password is masked (***).
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any

import typer
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from nngpt_core.config import RunConfig
from nngpt_cli.common import ConfigOption, DbOption, load

config_app = typer.Typer(help="The run configuration: every field, its default and what it means.", no_args_is_help=True)
INDENT = "  "


def _type_name(annotation: Any) -> str:
    """A short spelling of a field's type: int, float, list[str], one of a | b, ..."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return "one of " + " | ".join(str(v) for v in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(arg) for arg in typing.get_args(annotation))
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type_name(a) for a in typing.get_args(annotation))}]"
    return "null" if annotation is type(None) else getattr(annotation, "__name__", str(annotation))


def _bounds(field: FieldInfo) -> str:
    names = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    found = [f"{names[key]} {getattr(item, key)}" for item in field.metadata for key in names if hasattr(item, key)]
    return f", {' and '.join(found)}" if found else ""


def _scalar(value: Any) -> str:
    """A value as it sits on one line of YAML."""
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("\n...").strip()


def _lines(model: BaseModel, default: BaseModel, docs: bool, depth: int = 0) -> list[str]:
    lines: list[str] = []
    values = model.model_dump(mode="json")
    defaults = default.model_dump(mode="json")
    for name, field in type(model).model_fields.items():
        pad = INDENT * depth
        value = getattr(model, name)
        if docs:
            if lines and depth == 0:
                lines.append("")
            lines.append(f"{pad}# {field.description}")
        if isinstance(value, BaseModel):
            lines.append(f"{pad}{name}:")
            lines += _lines(value, getattr(default, name), docs, depth + 1)
            continue
        if docs:
            lines.append(f"{pad}# type: {_type_name(field.annotation)}{_bounds(field)}; default: {_scalar(defaults[name])}")
        lines.append(f"{pad}{name}: {_scalar(values[name])}")
    return lines


def render(cfg: RunConfig, docs: bool = False) -> str:
    """The config as YAML; with `docs`, a comment block (description, type, default) above every field."""
    header = ["# nngpt run configuration (nngpt_core/config.py); load it with: nngpt run --config FILE"] if docs else []
    return "\n".join(header + _lines(cfg, RunConfig(), docs)) + "\n"


@config_app.command("show")
def show(
    docs: Annotated[bool, typer.Option("--docs", help="Every field with its description, type and default as comments.")] = False,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Print the effective run config (built-in defaults, the --config file, --db) as YAML."""
    print(render(load(config, db), docs), end="")
