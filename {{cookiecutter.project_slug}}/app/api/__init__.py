"""HTTP routers that are not tied to one business module."""
