"""Heroku Connect API: discovery, connections, mappings (wire format only)."""
