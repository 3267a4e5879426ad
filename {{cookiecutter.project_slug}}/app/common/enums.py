"""Enumerations shared across the application."""

from enum import StrEnum


class Environment(StrEnum):
    """Where the application runs; selects the database and how strict the settings are."""

    LOCAL = "local"
    TEST = "test"
    DEV = "dev"
    PROD = "prod"

    @property
    def is_deployed(self) -> bool:
        """True for stages deployed to AWS, where a real MySQL database, its credentials (a Secrets Manager secret or
        a password) and a way to verify its certificate are required."""
        return self in (Environment.DEV, Environment.PROD)
