"""The one error the AWS clients raise."""


class AwsRequestError(Exception):
    """A request to AWS could not be made or was refused: the message names what and why, never a secret value
    (neither a key nor what the answer held)."""
