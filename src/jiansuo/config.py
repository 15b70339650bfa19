"""One configuration file per site: `jiansuo.toml` in the store folder (or `--config PATH`).

Every setting has a default here; the file overrides defaults, environment variables (`JIANSUO_<SECTION>_<KEY>`,
e.g. JIANSUO_SERVER_WORKERS=4) override the file, and command-line flags override everything. `jiansuo config
show` prints each effective value and where it came from. Unknown keys and values of the wrong type are errors
at start-up, reported as `FILE: section.key: reason`.

    [site]
    base_url = "https://blog.example.org/search"   # feed and page links use it, never the Host header
    title = "My research notes"
    languages = ["zh", "en"]

    [server]
    workers = 2
    max_rerank = 50          # the largest rerank=K a request may ask for

    [api]
    keyed_reads = false      # true: /api/search and the pages need a search or admin key too

    [[sync]]                 # `jiansuo sync` sources, see sync.py
    kind = "rss"
    url = "https://blog.example.org/feed.xml"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILE_NAME = "jiansuo.toml"

# section.key -> (default, description); the default's type is the setting's type
SETTINGS: dict[str, tuple[Any, str]] = {
    "site.base_url": ("", "where readers reach the site (default http://HOST:PORT)"),
    "site.title": ("jiansuo", "the site's name, shown in the page title and feeds"),
    "site.languages": (["zh", "en"], "languages of the interface"),
    "search.encoder": ("", "the dense encoder for `jiansuo index` (empty: keep the store's, or none)"),
    "search.reranker": ("", "a cross-encoder folder; enables rerank=K"),
    "search.fusion": ("confidence", "hybrid fusion: confidence, rrf or weighted"),
    "search.boosts": ({}, "BM25 field boosts, e.g. {title = 2.0}"),
    "server.host": ("127.0.0.1", "address to listen on"),
    "server.port": (8000, "port to listen on"),
    "server.workers": (1, "worker processes"),
    "server.search_threads": (8, "searches at once per worker"),
    "server.search_processes": (2, "processes per worker that run searches and pages (0: the worker's threads)"),
    "server.request_seconds": (10.0, "a request taking longer is answered 503"),
    "server.max_rerank": (200, "the largest rerank=K a request may ask for"),
    "server.max_budget": (2000, "the most cross-encoder calls a ce-knn request may ask for"),
    "server.max_body_bytes": (32 * 1024 * 1024, "the largest write API request body"),
    "server.max_header_bytes": (64 * 1024, "the largest request line + headers"),
    "feed.entries": (20, "entries per Atom feed"),
    "api.keyed_reads": (False, "require a key for reading too (search and pages)"),
    "api.writes": (True, "offer the write API (/api/documents, /api/refresh) to admin keys"),
    "sync": ([], "sources for `jiansuo sync` (a list of tables, see sync.py)"),
}
FLOAT_OK = {"server.request_seconds"}


class ConfigError(ValueError):
    """A configuration file that cannot be used: unknown key, wrong type, bad TOML."""


@dataclass
class Config:
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def show(self) -> str:
        width = max(len(key) for key in self.values)
        return "\n".join(f"{key:<{width}} = {_toml(value)}    # {self.sources[key]}"
                         for key, value in sorted(self.values.items()))


def config_path(store: Path | str, explicit: Path | str | None = None) -> Path:
    return Path(explicit) if explicit else Path(store) / FILE_NAME


def load_config(store: Path | str, explicit: Path | str | None = None,
                flags: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> Config:
    """The effective settings: defaults < the file < JIANSUO_* environment variables < `flags` (None = not given)."""
    config = Config({key: default for key, (default, _) in SETTINGS.items()},
                    {key: "default" for key in SETTINGS})
    path = config_path(store, explicit)
    if explicit and not path.exists():
        raise ConfigError(f"{path}: no such configuration file")
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: not valid TOML ({error})") from None
        for key, value in _flatten(data):
            config.values[key] = _checked(key, value, str(path))
            config.sources[key] = str(path)
    for key in SETTINGS:
        name = "JIANSUO_" + key.replace(".", "_").upper()
        raw = (environ if environ is not None else os.environ).get(name)
        if raw is not None and key != "sync":
            config.values[key] = _checked(key, _parse_env(key, raw, name), name)
            config.sources[key] = f"environment {name}"
    for key, value in (flags or {}).items():
        if value is not None:
            config.values[key] = _checked(key, value, "command line")
            config.sources[key] = "command line"
    return config


def _flatten(data: dict) -> list[tuple[str, Any]]:
    items = []
    for section, values in data.items():
        if section == "sync":
            items.append(("sync", values))
            continue
        if not isinstance(values, dict):
            items.append((section, values))  # reported as an unknown key
            continue
        items += [(f"{section}.{key}", value) for key, value in values.items()]
    return items


def _checked(key: str, value: Any, origin: str) -> Any:
    if key not in SETTINGS:
        known = ", ".join(sorted(SETTINGS))
        raise ConfigError(f"{origin}: {key}: unknown setting (known: {known})")
    default = SETTINGS[key][0]
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        value = float(value) if ok else value
    elif isinstance(default, list) and key == "sync":
        ok = isinstance(value, list) and all(isinstance(v, dict) and isinstance(v.get("kind"), str) for v in value)
    elif isinstance(default, list):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif isinstance(default, dict):
        ok = isinstance(value, dict) and all(isinstance(v, int | float) for v in value.values())
    else:
        ok = isinstance(value, str)
    if not ok:
        expected = "a list of [[sync]] tables with a kind" if key == "sync" else _kind(default)
        raise ConfigError(f"{origin}: {key}: expected {expected}, got {value!r}")
    return value


def _kind(default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "a whole number >= 0"
    if isinstance(default, float):
        return "a number > 0"
    if isinstance(default, list):
        return "a list of strings"
    if isinstance(default, dict):
        return "a table of numbers"
    return "a string"


def _parse_env(key: str, raw: str, name: str) -> Any:
    default = SETTINGS[key][0]
    if isinstance(default, str):
        return raw
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        raise ConfigError(f"{name}: {key}: expected {_kind(default)}, got {raw!r}") from None


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)
