"""promote-action: promote tested software to production and prove it is live."""

__version__ = "0.1.0"
