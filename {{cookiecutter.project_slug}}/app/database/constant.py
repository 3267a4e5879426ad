"""Connection-pool defaults, each overridable through the environment variable named beside it.

The defaults fit AWS Lambda, where one container serves one request at a time: a single pooled connection and no
overflow. A long-running uvicorn process can raise DB_POOL_SIZE.
"""

POOL_SIZE = {{ cookiecutter.db_pool_size }}  # DB_POOL_SIZE
MAX_OVERFLOW = {{ cookiecutter.db_max_overflow }}  # DB_MAX_OVERFLOW
POOL_TIMEOUT_SECONDS = {{ cookiecutter.db_pool_timeout }}  # DB_POOL_TIMEOUT
# Below MySQL's default wait_timeout (8 hours) and RDS Proxy's idle timeout, so the server never closes a pooled
# connection first; pool_pre_ping catches the rest (e.g. a Lambda container thawed after a long freeze).
POOL_RECYCLE_SECONDS = 1800  # DB_POOL_RECYCLE
CONNECT_TIMEOUT_SECONDS = {{ cookiecutter.db_connect_timeout }}  # DB_CONNECT_TIMEOUT
