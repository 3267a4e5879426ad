"""Who is calling: the identity API Gateway verified (or, in local and test runs only, a local token) and its scopes."""
