"""What the background jobs add to the API's cold start (issue #29: at most 2% on GET /health).

The default bake (background_jobs=no) and the same bake answered background_jobs=yes, each packaged with `make
package`, start cold in the same rounds: import main and serve GET /health, the yes package with a queue URL as its
deployed stage has one (a deployed stage without it refuses to start; GET /health sends nothing). The no package runs
twice in each round, yes between the two, so no / no again shows how far the comparison moves by noise alone.
Besides the times, the modules each package has loaded once it answered: what the job runtime adds to the API's
cold path, which noise cannot blur.
"""

from __future__ import annotations

# The two bakes compared, as cookiecutter answers: the only place they are named.
COMPARED_ANSWERS: dict[str, tuple[str, ...]] = {"no": (), "yes": ("background_jobs=yes",)}
LABELS = {
    "no": "background_jobs=no (default bake)",
    "yes": "background_jobs=yes, JOB_QUEUE_URL set as deployed",
}
# Each name's variables beyond the deployed function's (a placeholder queue: GET /health enqueues nothing).
FUNCTION_ENV = {
    "yes": {"JOB_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/challenge-backend-dev-jobs"},
}
# The limit of the proof: what background_jobs=yes may add to the API's cold GET /health.
RATIO_LIMIT = 1.02
# Cold-start rounds per process count of the other cold starts: a 2% limit needs more rounds than a 10% one.
ROUNDS_FACTOR = 2
# The modules a package has loaded once it answered GET /health, on one line.
MODULES_PROBE = """
import sys
import main
response = main.handler({event!r}, None)
assert response["statusCode"] == 200, response
print(" ".join(sorted(sys.modules)))
"""


def added_modules(no: set[str], yes: set[str]) -> list[str]:
    """The modules the yes package loads on its cold GET /health that the no package does not, sorted."""
    return sorted(yes - no)
