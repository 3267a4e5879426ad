"""The example domain: challenges (create, list, get)."""
