"""A real OpenID Connect provider on loopback for the sign-in tests: panva's certified
`oidc-provider` (npm), run by Node from tests/oidc/ (package.json and package-lock.json there;
`npm ci` installs it on first use when tests/oidc/node_modules is missing).

Outside CI a missing Node or npm skips the tests that need it, with a message; in CI
(CI=true) it fails them, like Chromium and PostgreSQL.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

HERE = Path(__file__).parent / "oidc"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CLIENT_ID = "groundswell-dashboard"
CLIENT_SECRET = "test-only-client-secret-0123456789"


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what}; CI must run the sign-in tests (.ci/run installs Node and npm)")
    pytest.skip(what)


def ensure_installed() -> str:
    """The node executable, with oidc-provider installed from the lock file."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        _missing("the OpenID Connect provider needs Node.js and npm (apt-get install nodejs npm)")
    # A marker written only after `npm ci` succeeded, under a lock: a run interrupted during
    # the install (or a second pytest process installing at the same time) left a half-filled
    # node_modules/oidc-provider that the old "directory exists" test took for installed.
    marker = HERE / "node_modules" / ".groundswell-installed"
    with open(HERE / ".npm-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.is_file():
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=HERE,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if done.returncode != 0:
                _missing(f"npm ci in {HERE} failed: {done.stderr[-800:]}")
            marker.write_text("npm ci succeeded\n", encoding="utf-8")
    return str(node)


@dataclass
class Provider:
    """One provider process; `accounts` is rewritten to change someone's groups."""

    issuer: str
    accounts_file: Path
    process: subprocess.Popen[bytes]

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def set_accounts(self, accounts: dict[str, dict[str, Any]]) -> None:
        tmp = self.accounts_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(accounts), encoding="utf-8")
        tmp.replace(self.accounts_file)  # read at each sign-in: never half-written

    def secrets_toml(self, scope: str = "openid email profile groups roles") -> str:
        """The `[auth]` section of .streamlit/secrets.toml for a dashboard on any loopback port."""
        return (
            "[auth]\n"
            'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
            'cookie_secret = "test-only-cookie-secret-0123456789abcdef"\n'
            f'client_id = "{CLIENT_ID}"\n'
            f'client_secret = "{CLIENT_SECRET}"\n'
            f'server_metadata_url = "{self.metadata_url}"\n'
            # Streamlit asks prompt=select_account by default, which this provider (like
            # Keycloak before 24) does not know; prompt=login is standard.
            f'client_kwargs = {{ scope = "{scope}", prompt = "login" }}\n'
        )


def start_provider(workdir: Path, accounts: dict[str, dict[str, Any]]) -> Provider:
    node = ensure_installed()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    workdir.mkdir(parents=True, exist_ok=True)
    accounts_file = workdir / "accounts.json"
    clients_file = workdir / "clients.json"
    clients_file.write_text(
        json.dumps(
            [
                {
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    # any loopback port is accepted by provider.mjs; one is required here
                    "redirect_uris": ["http://127.0.0.1:1/oauth2callback"],
                    "post_logout_redirect_uris": ["http://127.0.0.1:1/oauth2callback"],
                }
            ]
        ),
        encoding="utf-8",
    )
    log = open(workdir / "provider.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [node, str(HERE / "provider.mjs"), str(port), str(accounts_file), str(clients_file)],
        cwd=HERE,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    provider = Provider(f"http://127.0.0.1:{port}", accounts_file, proc)
    provider.set_accounts(accounts)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"oidc-provider exited with {proc.returncode}: "
                + (workdir / "provider.log").read_text()[-2000:]
            )
        try:
            if httpx.get(provider.metadata_url, timeout=2).status_code == 200:
                return provider
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"oidc-provider did not answer on {provider.issuer} in 60 s")


def stop_provider(provider: Provider) -> None:
    provider.process.terminate()
    try:
        provider.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        provider.process.kill()
