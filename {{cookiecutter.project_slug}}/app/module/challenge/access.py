"""Who may call the challenge routes: the scopes each kind of call needs, and whose rows a caller sees.

The scope strings are written here only, in Cognito's resource-server/scope form (resource server `challenge`); a
team whose issuer names scopes otherwise renames them here (README: Authentication).
"""

from typing import Annotated

from app.auth.identity import User, require_scopes

# Reads need a verified identity and no scope.
READ_SCOPES: tuple[str, ...] = ()
WRITE_SCOPE = "challenge/write"
# Every scope the module defines: what `make token` grants by default.
SCOPES = (*READ_SCOPES, WRITE_SCOPE)
# The one switch for shared data. False: a row belongs to the subject that created it, and any other subject gets 404
# for it (not 403, which would confirm that the id exists). True: every caller allowed to read sees every row.
SHARED_ROWS = False

Reader = Annotated[User, require_scopes(*READ_SCOPES)]
Writer = Annotated[User, require_scopes(WRITE_SCOPE)]


# What owner_filter gives when rows are shared: no owner to filter on, so reads find every caller's rows.
EVERY_OWNER = None


def owner_filter(user: User) -> str | None:
    """The owner_subject the caller's reads are limited to: its own subject, or EVERY_OWNER when SHARED_ROWS."""
    return EVERY_OWNER if SHARED_ROWS else user.subject
