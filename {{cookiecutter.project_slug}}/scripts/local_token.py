"""Print a token the app accepts in local and test runs: `make token sub=alice scopes="challenge/write"`.

The token is signed with LOCAL_TOKEN_KEY (from the environment or .env). On first use a fresh key is appended to .env,
which git ignores and no package or image contains, so each checkout has its own. `--ensure-key` only does that
(`make run` calls it, so a running server already knows the key). Refused when ENVIRONMENT is dev or prod: deployed
stages verify tokens at API Gateway and refuse to start with LOCAL_TOKEN_KEY.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from secrets import token_urlsafe

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from app.auth.local_token import issue_local_token  # noqa: E402
from app.common.settings import SettingsError, load_settings  # noqa: E402
from app.registry import every_module_scope  # noqa: E402

ENV_FILE = Path(".env")


class TokenError(Exception):
    """No token can be made here; the message says why and what to do."""


def local_token_key(env_file: Path) -> str:
    """LOCAL_TOKEN_KEY from the settings, after appending a fresh one to env_file when there is none."""
    try:
        settings = load_settings()
        if settings.environment.is_deployed:
            raise TokenError(
                f"ENVIRONMENT={settings.environment.value}: local tokens exist for ENVIRONMENT=local or test only; "
                "deployed stages take tokens from your issuer (README: Authentication)."
            )
        if settings.local_token_key is None:
            existing = env_file.read_text(encoding="utf-8") if env_file.exists() else ""
            separator = "" if not existing or existing.endswith("\n") else "\n"
            with env_file.open("a", encoding="utf-8") as file:
                file.write(f"{separator}LOCAL_TOKEN_KEY={token_urlsafe(32)}\n")
            print(f"Wrote a new LOCAL_TOKEN_KEY to {env_file}; restart a server started before.", file=sys.stderr)
            settings = load_settings()
    except SettingsError as error:
        raise TokenError(str(error)) from None
    if settings.local_token_key is None:
        raise TokenError(f"LOCAL_TOKEN_KEY is still unset after writing it to {env_file}: is .env read from here?")
    return settings.local_token_key.get_secret_value()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sub", default="local-user", help="the token's subject (default: local-user)")
    parser.add_argument("--scopes", help="space- or comma-separated scopes (default: every module's scopes)")
    parser.add_argument("--lifetime", type=int, default=3600, help="seconds the token is valid (default: 3600)")
    parser.add_argument("--ensure-key", action="store_true", help="only make sure LOCAL_TOKEN_KEY exists")
    args = parser.parse_args(argv)
    subject = args.sub.strip()
    if not subject or any(character.isspace() for character in subject):
        print(f"sub: invalid value {args.sub!r}; allowed: a non-empty subject without spaces", file=sys.stderr)
        return 2
    if args.lifetime < 1:
        print(f"lifetime: invalid value {args.lifetime}; allowed: a positive number of seconds", file=sys.stderr)
        return 2
    try:
        key = local_token_key(ENV_FILE)
    except TokenError as error:
        print(f"No local token: {error}", file=sys.stderr)
        return 2
    if args.ensure_key:
        return 0
    scopes = every_module_scope() if args.scopes is None else args.scopes.replace(",", " ").split()
    print(issue_local_token(key, subject, scopes, args.lifetime))
    return 0


if __name__ == "__main__":
    sys.exit(main())
