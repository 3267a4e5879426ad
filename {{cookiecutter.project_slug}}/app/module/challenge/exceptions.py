"""Errors of the challenge domain."""

from app.common.errors import NotFoundError
from app.module.challenge import messages


class ChallengeNotFoundError(NotFoundError):
    """No challenge has the requested id."""

    code = "challenge_not_found"

    def __init__(self, challenge_id: int) -> None:
        super().__init__(messages.CHALLENGE_NOT_FOUND.format(challenge_id=challenge_id))
