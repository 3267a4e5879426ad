"""Errors of the challenge domain."""

from app.common import messages
from app.common.errors import NotFoundError


class ChallengeNotFoundError(NotFoundError):
    """No challenge has the requested id."""

    code = "challenge_not_found"

    def __init__(self, challenge_id: int) -> None:
        super().__init__(messages.CHALLENGE_NOT_FOUND.format(challenge_id=challenge_id))
