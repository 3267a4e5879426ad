"""Application package: API routers, shared code, database access and business modules."""
