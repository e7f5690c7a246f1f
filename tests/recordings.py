"""Recorded real traffic from public repositories, read where it lies and never copied into ours.

Hand-written protocol servers agree with our own assumptions (canonical-case headers, the URI
shapes we imagined), so protocol tests also replay what real servers sent, as recorded by the
projects that own the clients: Mastodon.py's VCR cassettes (real Mastodon 4.x), the atproto SDK's
and Jetstream's recorded views and events, feedparser's test feeds, WordPress's theme-unit-test
export and webmention.rocks' discovery cases.

Those files belong to their projects and keep their licences there; this repository commits none
of them. A test asks for one file by repository and path, and it is read from, in order:

1. ``$GROUNDSWELL_RECORDINGS/<owner>+<name>/<path>`` (a folder you filled yourself);
2. ``../shared/recordings/<owner>+<name>/<path>`` beside the checkout (the project's shared data);
3. a snapshot of the repository fetched onto this machine (``/work/.mirror/<owner>+<name>/repo``,
   a bare git directory), read with ``git show HEAD:<path>``.

When none has it, the test is skipped with a message naming the repository to fetch, in CI too:
the recordings are outside data that no package registry serves.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

# repository -> its licence, stated beside every use of its files
LICENCES = {
    "halcy/Mastodon.py": "MIT",
    "bluesky-social/jetstream": "MIT or Apache-2.0",
    "MarshalX/atproto": "MIT",
    "kurtmckee/feedparser": "BSD-2-Clause",
    "WordPress/theme-test-data": "GPL-2.0-or-later",
    "aaronpk/webmention.rocks": "Apache-2.0",
}

_ROOT = Path(__file__).resolve().parent.parent
MIRRORS = Path(os.environ.get("GROUNDSWELL_MIRRORS", "/work/.mirror"))


def _folders(repo: str) -> list[Path]:
    key = repo.replace("/", "+")
    out = []
    if os.environ.get("GROUNDSWELL_RECORDINGS"):
        out.append(Path(os.environ["GROUNDSWELL_RECORDINGS"]) / key)
    out.append(_ROOT.parent / "shared" / "recordings" / key)
    return out


def _git_dir(repo: str) -> Path | None:
    git_dir = MIRRORS / repo.replace("/", "+") / "repo"
    return git_dir if (git_dir / "HEAD").exists() else None


@cache
def _from_git(git_dir: Path, path: str) -> bytes | None:
    done = subprocess.run(
        ["git", "--git-dir", str(git_dir), "show", f"HEAD:{path}"],
        capture_output=True,
        check=False,
    )
    return done.stdout if done.returncode == 0 else None


def available(repo: str) -> bool:
    """Whether any copy of `repo`'s recordings can be read on this machine."""
    return any(f.is_dir() for f in _folders(repo)) or _git_dir(repo) is not None


def recorded(repo: str, path: str) -> bytes:
    """The bytes of `path` in `repo` as its project recorded them; skips the test if absent."""
    if repo not in LICENCES:
        raise KeyError(f"{repo} is not a known source of recordings: add it and its licence")
    for folder in _folders(repo):
        candidate = folder / path
        if candidate.is_file():
            return candidate.read_bytes()
    git_dir = _git_dir(repo)
    if git_dir is not None:
        data = _from_git(git_dir, path)
        if data is not None:
            return data
    pytest.skip(
        f"recorded traffic {repo}:{path} is not on this machine: fetch github:{repo} "
        f"or place the file under ../shared/recordings/{repo.replace('/', '+')}/"
    )


def recorded_paths(repo: str, prefix: str) -> list[str]:
    """Paths under `prefix` in `repo`'s recordings (folder copies first, else the snapshot)."""
    for folder in _folders(repo):
        base = folder / prefix
        if base.is_dir():
            return sorted(str(p.relative_to(folder)) for p in base.rglob("*") if p.is_file())
    git_dir = _git_dir(repo)
    if git_dir is None:
        return []
    done = subprocess.run(
        ["git", "--git-dir", str(git_dir), "ls-tree", "-r", "--name-only", "HEAD", "--", prefix],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.splitlines() if done.returncode == 0 else []


@dataclass(frozen=True, slots=True)
class Interaction:
    """One recorded request and the reply the real server gave (a VCR cassette entry)."""

    method: str
    uri: str
    status: int
    headers: dict[str, str]  # as recorded: real Mastodon sends them lower-case
    body: bytes


def cassette(repo: str, path: str) -> list[Interaction]:
    """The interactions of a VCR cassette (YAML) in `repo`; skips the test if absent."""
    import yaml

    data = yaml.safe_load(recorded(repo, path))
    out = []
    for item in data.get("interactions") or []:
        req, resp = item["request"], item["response"]
        body = resp.get("body", {}).get("string") or ""
        out.append(
            Interaction(
                method=str(req["method"]).upper(),
                uri=str(req["uri"]),
                status=int(resp["status"]["code"]),
                headers={str(k): str(v[0]) for k, v in (resp.get("headers") or {}).items() if v},
                body=body.encode() if isinstance(body, str) else bytes(body),
            )
        )
    return out
