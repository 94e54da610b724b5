"""Task types, one module (or package: `rsa/`, `transfer/`) each; every one in this folder registers its type on import.

Add a type: a new module here that builds a `TaskType` and calls `register_task_type` (see
CONTRIBUTING.md, "Add a task type"). Code outside the package calls `register_task_type` itself.
"""

import importlib
import pkgutil

from audioprobe.tasktypes.common import TASK_TYPES, EvalContext, TaskType, register_task_type

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "common":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["TASK_TYPES", "EvalContext", "TaskType", "register_task_type"]
