"""Code shared by every module: settings, enums, errors and messages."""
