"""Reporting: the only place that knows about workflow commands, outputs and the job summary."""
