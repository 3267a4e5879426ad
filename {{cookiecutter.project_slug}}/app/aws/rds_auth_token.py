"""RDS IAM database authentication tokens, with the standard library alone: what botocore's generate_db_auth_token
returns, without botocore.

A token is a presigned `rds-db` `connect` request for one database user on one host and port, signed with AWS
Signature Version 4 (app/aws/signature.py) and valid for TOKEN_LIFETIME seconds from its X-Amz-Date; MySQL receives
it as the password (only inside TLS: app/database/mysql_connection.py). Making one takes a few HMACs and no network
call. It is a credential: never log it.
"""

from datetime import datetime

from app.aws.credentials import AwsCredentials
from app.aws.signature import presigned_query

SERVICE = "rds-db"
# Seconds a token may start a login after it was made (RDS's fixed 15 minutes; botocore's default as well).
TOKEN_LIFETIME = 900


def rds_auth_token(host: str, port: int, user: str, region: str, credentials: AwsCredentials, now: datetime) -> str:
    """The token that logs `user` in to the database at host:port (a cluster, instance or RDS Proxy endpoint in
    region), signed at now (timezone-aware) with the credentials: `host:port/?Action=connect&DBUser=...`."""
    address = f"{host}:{port}"
    query = presigned_query(
        method="GET",
        url=f"https://{address}/",
        parameters={"Action": "connect", "DBUser": user},
        credentials=credentials,
        region=region,
        service=SERVICE,
        now=now,
        expires=TOKEN_LIFETIME,
    )
    return f"{address}/?{query}"
