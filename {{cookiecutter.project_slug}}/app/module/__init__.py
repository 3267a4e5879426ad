"""Business modules, one package per domain (router, schemas, models, service)."""
