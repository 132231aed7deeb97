"""Reading TOML tables with errors that name the file, the table and the key."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path

from debforge.errors import RecipeError
from debforge.recipe.debian import suggest
from debforge.report import Reporter


def display(path: Path) -> str:
    """`path` relative to the working directory when it is below it, as users typed it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_toml(path: Path) -> dict[str, object]:
    """Parse a TOML file; a syntax error becomes a RecipeError with tomllib's line and column."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{display(path)} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise RecipeError(f"cannot read {display(path)}: {os.strerror(exc.errno or 0)}") from None


class Table:
    """One TOML table of a recipe file, with typed getters that fail with a precise sentence."""

    def __init__(
        self, data: Mapping[str, object], *, file: Path, name: str, strict: bool, reporter: Reporter
    ) -> None:
        self.data = data
        self.file = file
        self.name = name  # e.g. "package.metadata.deb"; "" for the document root
        self.strict = strict  # unknown keys: error (debforge.toml) or warning (cargo-deb metadata)
        self.reporter = reporter

    def where(self) -> str:
        """`[name] of file`, or just the file for the root table."""
        return f"[{self.name}] of {display(self.file)}" if self.name else display(self.file)

    def ref(self, key: str) -> str:
        """`'key' in [table] of file`."""
        return f"'{key}' in {self.where()}"

    def error(self, key: str, reason: str, *, hint: str | None = None) -> RecipeError:
        """An error about the value of `key`."""
        return RecipeError(f"invalid {self.ref(key)}: {reason}", hint=hint)

    def check_keys(self, known: Collection[str]) -> None:
        """Report every key not in `known`, with the closest known key as a suggestion."""
        for key in self.data:
            if key in known:
                continue
            message = f"unknown key '{key}' in {self.where()}{suggest(key, known)}"
            if self.strict:
                raise RecipeError(message)
            self.reporter.warning(f"{message} (ignored)")

    def sub(self, key: str, value: Mapping[str, object]) -> Table:
        """A child table."""
        name = f"{self.name}.{key}" if self.name else key
        return Table(value, file=self.file, name=name, strict=self.strict, reporter=self.reporter)

    def has(self, key: str) -> bool:
        """Whether the key is present."""
        return key in self.data

    def raw(self, key: str) -> object:
        """The value as parsed, or None."""
        return self.data.get(key)

    def string(self, key: str, default: str | None = None) -> str | None:
        """A string value."""
        value = self.data.get(key, default)
        if value is not None and not isinstance(value, str):
            raise self.error(key, f"expected a string, found {_kind(value)}")
        return value

    def required(self, key: str, fallback: str | None = None) -> str:
        """A string that must be present (or come from `fallback`)."""
        value = self.string(key) or fallback
        if not value:
            raise RecipeError(f"missing required key '{key}' in {self.where()}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        """A boolean value."""
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, found {_kind(value)}")
        return value

    def strings(self, key: str, *, allow_string: bool = False) -> tuple[str, ...] | None:
        """An array of strings (or one string when `allow_string`), or None when absent."""
        value = self.data.get(key)
        if value is None:
            return None
        if allow_string and isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            expected = "a string or an array of strings" if allow_string else "an array of strings"
            raise self.error(key, f"expected {expected}, found {_kind(value)}")
        return tuple(value)

    def table(self, key: str) -> Table | None:
        """A sub-table, or None when absent."""
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table, found {_kind(value)}")
        return self.sub(key, value)

    def tables(self, key: str) -> list[Table]:
        """A table or an array of tables (both forms are accepted, as cargo-deb's systemd-units)."""
        value = self.data.get(key)
        if value is None:
            return []
        items = [value] if isinstance(value, dict) else value
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise self.error(key, f"expected a table or an array of tables, found {_kind(value)}")
        return [self.sub(key, item) for item in items]


def _kind(value: object) -> str:
    """A TOML name for the type of `value`, for messages."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    names |= {list: "an array", dict: "a table"}
    return names.get(type(value), type(value).__name__)
