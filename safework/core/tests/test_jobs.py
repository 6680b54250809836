"""Background work has one shape (core.jobs): a service queues a task by its model, so no
module imports its app's tasks module but the app's AppConfig (and tests), and no service ↔
tasks import cycle can come back."""

import ast
from pathlib import Path

import pytest

from safework.core import jobs

ROOT = Path(__file__).resolve().parents[2]  # safework/


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_only_app_configs_and_tests_import_a_tasks_module():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if "tests" in rel.parts or "migrations" in rel.parts or path.name == "apps.py":
            continue
        if path.name == "tasks.py":
            continue
        if any(name.startswith("safework.") and name.endswith(".tasks") for name in _imports(path)):
            offenders.append(str(rel))
    assert offenders == []


def test_a_model_without_a_task_is_named_in_the_error():
    from safework.core.models import AuditRecord

    with pytest.raises(LookupError, match="core.AuditRecord"):
        jobs.task_of(AuditRecord)
