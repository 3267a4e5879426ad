"""Project root.

The reference layout keeps this file; nothing imports the root as a package. Lambda and uvicorn import `main`
and `app` from this folder directly.
"""
