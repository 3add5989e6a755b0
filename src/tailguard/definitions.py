"""Definitions the risk team edits as text (early-warning rules, incentive programmes): JSON
or YAML read into plain data, with a parse error named on the `definition` field. Each kind
then checks its own fields; only the reading is shared."""

from __future__ import annotations

import json
from typing import Any

from tailguard.errors import InvalidInput


def read_definition(text: str, fmt: str) -> Any:
    """The data of JSON or YAML `text` (YAML needs PyYAML, loaded only when used)."""
    if fmt == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput.one("definition", "invalid_json",
                                   f"line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    if fmt == "yaml":
        try:
            import yaml  # type: ignore[import-untyped]
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise InvalidInput.one("format", "unavailable", "YAML needs PyYAML") from exc
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise InvalidInput.one("definition", "invalid_yaml", f"{where}{problem}") from exc
    raise InvalidInput.one("format", "invalid", "json or yaml")
