"""Model wrappers, one file per family. The table below is the registry of built-in names.

Each entry maps a name to "module:Class" and the `--model-args` that name presets, so that
`list models` and name resolution import a wrapper only when asked. Add a line here when you add
a wrapper (CONTRIBUTING.md).
"""

MODEL_TABLE: dict[str, tuple[str, dict]] = {
    "logmel": ("audioprobe.models.logmel:LogMel", {}),
}

#: `PREFIX:REST` names: the wrapper and the model argument that receives REST.
MODEL_PREFIXES: dict[str, tuple[str, str]] = {}
