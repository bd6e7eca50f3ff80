"""Action inputs: declarations (`fields`), parsing (`parsers`, `validators`), `loading`."""

from promote_action.inputs.fields import SECRET_INPUTS, Inputs, env_names, input_name, reveal
from promote_action.inputs.loading import load_inputs, variables_of
from promote_action.inputs.validators import STAGES, AppPin, WaveSpec

__all__ = [
    "SECRET_INPUTS",
    "STAGES",
    "AppPin",
    "Inputs",
    "WaveSpec",
    "env_names",
    "input_name",
    "load_inputs",
    "reveal",
    "variables_of",
]
