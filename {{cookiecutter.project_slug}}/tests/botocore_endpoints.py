"""Where botocore sends a service's requests in every region it knows, to hold the app's own endpoint rule
(app/aws/endpoints.py) against it."""

from collections.abc import Callable, Mapping

import botocore.session  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]

# botocore needs keys to build a client; resolving its endpoint sends nothing.
PLACEHOLDER_KEYS = {"aws_access_key_id": "a", "aws_secret_access_key": "b"}  # nosec B105 - not a key
# Each FIPS and dual-stack combination, as (AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT).
FIPS_AND_DUALSTACK = [(False, True), (True, False), (True, True), (False, False)]


def disagreements_with_botocore(
    service: str, endpoint: Callable[[str, Mapping[str, str]], str], fips: bool, dualstack: bool
) -> list[tuple[str, str]]:
    """(region, botocore's endpoint) wherever endpoint(region, environ) differs from the endpoint botocore's client of
    the service picks, in the commercial, China and GovCloud partitions, with FIPS and dual-stack as asked."""
    session = botocore.session.get_session()
    config = Config(use_fips_endpoint=fips, use_dualstack_endpoint=dualstack)
    environ = {"AWS_USE_FIPS_ENDPOINT": str(fips).lower(), "AWS_USE_DUALSTACK_ENDPOINT": str(dualstack).lower()}
    disagreements = []
    for partition in ("aws", "aws-cn", "aws-us-gov"):
        for region in session.get_available_regions(service, partition_name=partition):
            client = session.create_client(service, region, config=config, **PLACEHOLDER_KEYS)
            if endpoint(region, environ) != client.meta.endpoint_url:
                disagreements.append((region, client.meta.endpoint_url))
    return disagreements
