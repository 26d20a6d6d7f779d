"""Verify Desk: a newsroom verification desk (Django project and app)."""
