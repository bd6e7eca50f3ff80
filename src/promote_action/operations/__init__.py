"""Operations: each builds a plan from read-only calls, then applies it."""

from __future__ import annotations

import importlib
from typing import Any

from promote_action.inputs import Inputs
from promote_action.operations.base import Operation, Services

OPERATION_CLASSES = {
    "slug-copy": ("slug_copy", "SlugCopy"),
    "pipeline-promote": ("pipeline_promote", "PipelinePromote"),
    "kintone-deploy": ("kintone_deploy", "KintoneDeploy"),
    "connect-promote": ("connect", "ConnectPromote"),
    "connect-pause": ("connect", "ConnectPause"),
    "connect-resume": ("connect", "ConnectResume"),
    "connect-check": ("connect", "ConnectCheck"),
}


def operation_class(name: str) -> Any:
    """Imported on demand: a slug copy never loads the kintone or Connect code."""
    module, cls = OPERATION_CLASSES[name]
    return getattr(importlib.import_module(f"promote_action.operations.{module}"), cls)


def create(inputs: Inputs, services: Services) -> Operation[Any, Any]:
    operation: Operation[Any, Any] = operation_class(str(inputs.operation))(inputs, services)
    return operation
