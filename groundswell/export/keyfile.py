"""The per-store pseudonymisation key file: exports are pseudonymous by default.

`groundswell init` writes a random key beside the config (mode 0600). It is never stored in
the database: whoever gets a copy of the store (a backup, a shared SQLite file, a read-only
database role) must not get the means to reverse the pseudonyms with it. `groundswell export`
pseudonymises with it unless `--identified` is given (with a `--reason`, recorded in the
export log). `$GROUNDSWELL_PSEUDONYM_KEY` (or `[ethics].pseudonym_key_env`), when set, still
wins, so an existing study keeps its pseudonyms.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from domain.settings.config import Settings
from groundswell.export.options import ExportError

KEY_FILE_SUFFIX = ".pseudonym.key"
DEFAULT_STEM = "groundswell"


class KeyFileError(ExportError):
    """The key file is missing, unreadable or readable by others (message says the fix)."""


def key_path(settings: Settings, config_path: Path | None) -> Path:
    """`[ethics].pseudonym_key_file` (relative to the config's folder), else
    `<config name>.pseudonym.key` beside the config (the working folder without a config)."""
    folder = config_path.parent if config_path is not None else Path.cwd()
    configured = settings.ethics.pseudonym_key_file
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_absolute() else folder / path
    stem = config_path.stem if config_path is not None else DEFAULT_STEM
    return folder / f"{stem}{KEY_FILE_SUFFIX}"


def ensure_key_file(path: Path) -> bool:
    """Create the key file (32 random bytes as hex, mode 0600) unless it exists; True when
    created. An existing key is never replaced: that would unlink later exports from earlier
    ones."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        raise KeyFileError(
            f"cannot create the pseudonymisation key {path}: {exc.strerror or exc}; "
            "set [ethics].pseudonym_key_file to a writable place"
        ) from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    os.chmod(path, 0o600)  # whatever the umask said
    return True


def read_key_file(path: Path) -> bytes:
    """The key, refusing a missing file or one that others can read (like ssh does)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise KeyFileError(
            f"no pseudonymisation key at {path}; run `groundswell init` to create it, or "
            "export --identified --reason '...' for a dataset that names people"
        ) from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"the pseudonymisation key {path} is readable by others "
            f"(mode {stat.S_IMODE(info.st_mode):o}); run `chmod 600 {path}`"
        )
    try:
        key = path.read_text(encoding="utf-8").strip().encode("utf-8")
    except OSError as exc:
        raise KeyFileError(f"cannot read the pseudonymisation key {path}: {exc}") from None
    if len(key) < 16:
        raise KeyFileError(
            f"the pseudonymisation key {path} is shorter than 16 bytes; delete it and run "
            "`groundswell init` for a new one (earlier exports' pseudonyms will not join)"
        )
    return key
