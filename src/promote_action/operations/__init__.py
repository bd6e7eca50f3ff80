"""Operations: each builds a plan from read-only calls, then applies it."""

from __future__ import annotations

from typing import Any

from promote_action.inputs import Inputs
from promote_action.operations.base import Operation, Services

CONNECT_OPERATIONS = {
    "connect-promote": "ConnectPromote",
    "connect-pause": "ConnectPause",
    "connect-resume": "ConnectResume",
    "connect-check": "ConnectCheck",
}


def create(inputs: Inputs, services: Services) -> Operation[Any, Any]:
    """The operation named by the `operation` input; imported on demand to keep start-up lean."""
    if inputs.operation == "slug-copy":
        from promote_action.operations.slug_copy import SlugCopy  # noqa: PLC0415

        return SlugCopy(inputs, services)
    if inputs.operation == "pipeline-promote":
        from promote_action.operations.pipeline_promote import PipelinePromote  # noqa: PLC0415

        return PipelinePromote(inputs, services)
    if inputs.operation == "kintone-deploy":
        from promote_action.operations.kintone_deploy import KintoneDeploy  # noqa: PLC0415

        return KintoneDeploy(inputs, services)
    if inputs.operation in CONNECT_OPERATIONS:
        from promote_action.operations import connect  # noqa: PLC0415

        operation: type[connect.ConnectOperation] = getattr(
            connect, CONNECT_OPERATIONS[inputs.operation]
        )
        return operation(inputs, services)
    raise AssertionError(f"unhandled operation {inputs.operation}")
