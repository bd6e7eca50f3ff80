"""Heroku Platform API: wire format only (models and a client); operations live elsewhere."""
