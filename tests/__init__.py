"""Tests of the template: hooks, bakes and the baked project's own tools."""
