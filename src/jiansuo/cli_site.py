"""The site owner's commands: config, keys, sync, backup, restore, export (`jiansuo --help` lists them)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
Command = Callable[[str, str, str], argparse.ArgumentParser]


def add_commands(command: Command) -> dict[str, Callable[[argparse.Namespace], int]]:
    config = command("config", "Show the effective configuration and where each value comes from.",
                     "jiansuo config show --store site")
    config.add_argument("action", choices=["show"])
    config.add_argument("--config", type=Path, default=None, help="a jiansuo.toml elsewhere than in the store")

    keys = command("keys", "Create, list or revoke API keys for the HTTP API (stored hashed).",
                   "jiansuo keys create --role admin --name ci --store site")
    keys.add_argument("action", choices=["create", "list", "revoke"])
    keys.add_argument("key_id", nargs="?", help="revoke: the key's id (from `jiansuo keys list`)")
    keys.add_argument("--role", choices=["search", "admin"], default="search")
    keys.add_argument("--name", default="")

    sync = command("sync", "Pull new and changed documents from the [[sync]] sources of the configuration.",
                   "jiansuo sync --store site --every 1h")
    sync.add_argument("--config", type=Path, default=None)
    sync.add_argument("--every", default=None, metavar="DURATION", help="run again after each interval: 30m, 1h, 1d")

    backup = command("backup", "Copy the store (consistent while serving), its configuration and embedding cache.",
                     "jiansuo backup backups/2026-11-29 --store site")
    backup.add_argument("folder", type=Path)
    backup.add_argument("--no-cache", action="store_true", help="leave the embedding cache out (smaller backup)")

    restore = command("restore", "Restore a backup into a new store folder and rebuild its indexes.",
                      "jiansuo restore backups/2026-11-29 --store site-restored")
    restore.add_argument("folder", type=Path)

    export = command("export", "Write every document as JSON lines (re-indexable with `jiansuo index`).",
                     "jiansuo export --format jsonl --store site > site.jsonl")
    export.add_argument("--format", choices=["jsonl"], default="jsonl")
    return {"config": _config, "keys": _keys, "sync": _sync, "backup": _backup, "restore": _restore,
            "export": _export}


def _config(args: argparse.Namespace) -> int:
    from jiansuo.config import ConfigError, load_config

    try:
        print(load_config(args.store, args.config).show())
    except ConfigError as error:
        print(f"jiansuo config: {error}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _keys(args: argparse.Namespace) -> int:
    from jiansuo.engine import Engine
    from jiansuo.store.api_keys import ApiKeys

    Engine(args.store, create=False).close()
    keys = ApiKeys(Path(args.store) / "store.sqlite")
    try:
        if args.action == "create":
            key, secret = keys.create(args.role, args.name)
            print(secret)
            print(f"created {key.role} key {key.id} {key.name!r}; it is shown once, only its hash is kept",
                  file=sys.stderr)
        elif args.action == "list":
            for key in keys.list():
                state = f"revoked {time.strftime('%Y-%m-%d', time.gmtime(key.revoked))}" if key.revoked else "active"
                print(f"{key.id}  {key.role:<6}  {state:<18}  {time.strftime('%Y-%m-%d', time.gmtime(key.created))}"
                      f"  {key.name}")
        else:
            if not args.key_id:
                print("jiansuo keys revoke: name the key id (see `jiansuo keys list`)", file=sys.stderr)
                return EXIT_USAGE
            if not keys.revoke(args.key_id):
                print(f"jiansuo keys revoke: no active key {args.key_id!r}", file=sys.stderr)
                return EXIT_ERROR
            print(f"revoked {args.key_id}", file=sys.stderr)
    finally:
        keys.close()
    return EXIT_OK


def _sync(args: argparse.Namespace) -> int:
    from jiansuo.config import ConfigError, load_config
    from jiansuo.engine import Engine
    from jiansuo.sync import SyncError, sync_all

    try:
        sources = load_config(args.store, args.config)["sync"]
        interval = _seconds(args.every) if args.every else None
    except (ConfigError, ValueError) as error:
        print(f"jiansuo sync: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not sources:
        print("jiansuo sync: no [[sync]] sources in the configuration (see `jiansuo config show`)", file=sys.stderr)
        return EXIT_USAGE
    while True:
        engine = Engine(args.store)
        try:
            sync_all(engine, sources, log=lambda line: print(line, file=sys.stderr, flush=True))
        except SyncError as error:
            print(f"jiansuo sync: {error}", file=sys.stderr)
            if interval is None:
                return EXIT_ERROR
        finally:
            engine.close()
        if interval is None:
            return EXIT_OK
        time.sleep(interval)


def _seconds(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].replace(".", "", 1).isdigit():
        raise ValueError(f"--every {text!r}: expected a number and a unit, e.g. 30m, 1h, 1d")
    return float(text[:-1]) * units[text[-1]]


def _backup(args: argparse.Namespace) -> int:
    from jiansuo.store.backup import BackupError, backup

    try:
        manifest = backup(args.store, args.folder, cache=not args.no_cache)
    except BackupError as error:
        print(f"jiansuo backup: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(f"backed up {manifest['documents']} documents (store sequence {manifest['store_seq']}) to {args.folder} "
          f"in {manifest['seconds']} s", file=sys.stderr)
    return EXIT_OK


def _restore(args: argparse.Namespace) -> int:
    from jiansuo.engine import Engine
    from jiansuo.store.backup import BackupError, restore

    try:
        manifest = restore(args.folder, args.store)
    except BackupError as error:
        print(f"jiansuo restore: {error}", file=sys.stderr)
        return EXIT_ERROR
    encoder = manifest.get("indexes", {}).get("dense", {}).get("encoder")
    engine = Engine(args.store, encoder=encoder)
    engine.refresh()
    print(f"restored {engine.store.count()} documents into {args.store}; indexes rebuilt"
          f"{' (dense: ' + encoder + ', from the cache)' if encoder else ''}", file=sys.stderr)
    engine.close()
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from jiansuo.engine import Engine
    from jiansuo.store.backup import export_jsonl

    Engine(args.store, create=False).close()
    for line in export_jsonl(args.store):
        sys.stdout.write(line + "\n")
    return EXIT_OK
