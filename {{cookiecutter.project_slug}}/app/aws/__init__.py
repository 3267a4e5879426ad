"""Clients of AWS's APIs, written with the standard library alone: they import nothing of the app, so any layer may
use them, and they never load at start-up (Lambda's cold start)."""
