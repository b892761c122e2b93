"""A configuration file beside the environment, for the programs that run as services
(`ssc-issuer serve`, `ssc-terminal run`): TOML (tomllib, RFC-free but specified at toml.io
v1.0.0) read with pydantic-settings' TOML source.

Precedence, highest first: values given in code, the environment, the file, the embedded
defaults. A key the settings class does not know is refused (a typo must not be a silent
default), and so is a file that is missing or not valid TOML: `ConfigFileError`, which the
command lines report as a usage error (exit 2).
"""

from __future__ import annotations

import contextvars
import tomllib
from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import (BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict,
                               TomlConfigSettingsSource)

_file: contextvars.ContextVar[Path | None] = contextvars.ContextVar("settings_file", default=None)


class ConfigFileError(Exception):
    """The configuration file is missing, not TOML, or names a setting that does not exist."""


class FileSettings(BaseSettings):
    """A pydantic-settings class whose `load(path)` also reads a TOML file (environment wins)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource):
        path = _file.get()
        sources = (init_settings, env_settings, dotenv_settings, file_secret_settings)
        return sources + ((TomlConfigSettingsSource(settings_cls, toml_file=path),) if path else ())

    @classmethod
    def load(cls, path: str | Path | None = None, **values):
        """The settings from the environment and, with `path`, the TOML file there."""
        if not path:
            return cls._checked(**values)
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigFileError(f"cannot read the configuration file {path}: {exc.strerror or exc}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigFileError(f"the configuration file {path} is not valid TOML: {exc}") from None
        known = set(cls.model_fields)  # the field names (populate_by_name), not the environment's names
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigFileError(f"the configuration file {path} has unknown setting(s): {', '.join(unknown)} "
                                  f"(known: {', '.join(sorted(cls.model_fields))})")
        token = _file.set(path)
        try:
            return cls._checked(_where=f"{path} or the environment", **values)
        finally:
            _file.reset(token)

    @classmethod
    def _checked(cls, _where: str = "the environment", **values):
        try:
            return cls(**values)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
            raise ConfigFileError(f"a setting in {_where} is not valid: {problems}") from None
