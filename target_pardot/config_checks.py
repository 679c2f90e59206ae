"""Configuration mistakes as one line each, naming the setting and never a secret's value.

The SDK reports a wrong-typed setting with its value ("987654321 is not of type 'string'
in config['client_secret']"), exits 1, and lets a config file holding an array or an
unparsable environment variable end in a traceback. These checks run first and raise
ConfigError (exit code 2) instead.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dotenv import find_dotenv
from dotenv.main import DotEnv
from jsonschema import Draft202012Validator

from target_pardot.errors import ConfigError


def secret_names(schema: Mapping[str, Any]) -> frozenset[str]:
    properties = schema.get("properties", {})
    return frozenset(name for name, spec in properties.items() if spec.get("secret"))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a whole number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)  # fmt: skip


def _expected(spec: Mapping[str, Any]) -> str:
    kinds = spec.get("type")
    names = [kinds] if isinstance(kinds, str) else list(kinds or [])
    names = [n for n in names if n != "null"] or ["a valid value"]
    words = {"integer": "a whole number", "number": "a number", "string": "a string",
             "boolean": "true or false", "object": "an object", "array": "a list"}  # fmt: skip
    return " or ".join(words.get(n, n) for n in names)


def describe_errors(
    config: Mapping[str, Any], schema: Mapping[str, Any], secrets: Iterable[str]
) -> list[str]:
    """One message per setting that does not match the schema. A secret setting's value is
    never shown, whatever its type or length; other values are shown shortened."""
    hidden = set(secrets)
    properties = schema.get("properties", {})
    messages: list[str] = []
    for error in Draft202012Validator(dict(schema)).iter_errors(dict(config)):
        path = list(error.absolute_path)
        name = str(path[0]) if path else None
        if name is None and error.validator == "required":
            messages += [
                f"Setting '{missing}' is required."
                for missing in error.validator_value
                if missing not in config and f"Setting '{missing}' is required." not in messages
            ]
            continue
        if name is None:
            messages.append(f"the configuration does not match its schema ({error.validator})")
            continue
        value = config.get(name)
        shown = "a secret value" if name in hidden else _shown(value)
        where = "".join(f"[{p!r}]" for p in path[1:])
        spec = properties.get(name, {})
        if error.validator == "type" and not path[1:]:
            messages.append(f"Setting '{name}' must be {_expected(spec)}; got {shown}.")
        elif error.validator == "enum" and name not in hidden:
            allowed = ", ".join(repr(v) for v in spec.get("enum", []))
            messages.append(f"Setting '{name}' is {shown}; it must be one of {allowed}.")
        else:
            messages.append(f"Setting '{name}{where}' is not valid ({error.validator}).")
    return messages


def unknown_settings(config: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """One message per key that is no setting, naming the closest setting when one is
    close (a typo). Keys starting with "_" are left alone: orchestrators such as Meltano
    keep their own extras under that prefix ([guess]: harmless either way)."""
    known = list(schema.get("properties", {}))
    messages = []
    for key in config:
        if key in known or str(key).startswith("_"):
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.75)
        hint = (
            f"; did you mean '{close[0]}'?"
            if close
            else "; remove it (the README's settings table lists every setting)."
        )
        messages.append(f"Setting '{key}' is not a setting of target-pardot{hint}")
    return messages


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return f"{_kind(value)} ({text if len(text) <= 60 else text[:57] + '...'})"


def read_config_file(path: str) -> dict[str, Any]:
    """A config file's object; ConfigError (never a traceback) for any other content."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(f"Could not read the config file {path}: {reason}.") from None
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as exc:
        reason = f"not valid JSON ({exc})"
        raise ConfigError(f"Could not read the config file {path}: {reason}.") from None
    if not isinstance(config, dict):
        raise ConfigError(
            f"Could not read the config file {path}: it holds {_kind(config)}, and a config "
            "file must hold a JSON object of settings."
        )
    return config


#: What the SDK reads as true ("true", "1", "yes", "on") or, we ask, clearly as false.
BOOLEAN_WORDS = frozenset({"true", "1", "yes", "on", "false", "0", "no", "off", ""})


def environment_errors(prefix: str, schema: Mapping[str, Any]) -> list[str]:
    """Environment variables (``<PREFIX><SETTING>``) whose text the SDK cannot turn into
    the setting's type, named without their values. Mirrors the SDK's order of checks:
    any integer type means int(), an object or a non-string array means JSON."""
    DotEnv(find_dotenv()).set_as_environment_variables()  # as the SDK does, first
    errors = []
    for name, spec in schema.get("properties", {}).items():
        variable = prefix + name.upper().replace("-", "_")
        text = os.environ.get(variable)
        if text is not None and not _env_text_parses(text, spec):
            errors.append(f"Environment variable {variable} must be {_expected(spec)}.")
    return errors


def _env_text_parses(text: str, spec: Mapping[str, Any]) -> bool:
    kinds = spec.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    try:
        if "integer" in kinds:
            int(text)
        elif "boolean" in kinds:
            return text.strip().lower() in BOOLEAN_WORDS
        elif "number" in kinds:
            float(text)
        elif "array" in kinds:
            if spec.get("items", {}).get("type") != "string":
                json.loads(text)
        elif "object" in kinds:
            json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True
