"""The keys AWS requests are signed with, and the region they are signed for."""

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AwsCredentials:
    """The keys requests are signed with (Lambda gives the function role's keys in its environment)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "AwsCredentials | None":
        """The credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), or None."""
        access_key_id = environ.get("AWS_ACCESS_KEY_ID", "")
        secret_access_key = environ.get("AWS_SECRET_ACCESS_KEY", "")
        if not access_key_id or not secret_access_key:
            return None
        return cls(access_key_id, secret_access_key, environ.get("AWS_SESSION_TOKEN") or None)


def region_from_environment(environ: Mapping[str, str]) -> str | None:
    """The region in AWS_REGION (which Lambda sets) or AWS_DEFAULT_REGION, or None."""
    return environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None
