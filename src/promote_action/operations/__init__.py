"""Operations: each builds a plan from read-only calls, then applies it."""

from __future__ import annotations

from typing import Any

from promote_action.inputs import Inputs
from promote_action.operations.base import Operation, Services


def create(inputs: Inputs, services: Services) -> Operation[Any, Any]:
    """The operation named by the `operation` input; imported on demand to keep start-up lean."""
    if inputs.operation == "slug-copy":
        from promote_action.operations.slug_copy import SlugCopy  # noqa: PLC0415

        return SlugCopy(inputs, services)
    if inputs.operation == "pipeline-promote":
        from promote_action.operations.pipeline_promote import PipelinePromote  # noqa: PLC0415

        return PipelinePromote(inputs, services)
    raise AssertionError(f"unhandled operation {inputs.operation}")
