"""The pipeline package imports no web, database, queue or storage library."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

FORBIDDEN = {"flask", "flask_sqlalchemy", "sqlalchemy", "redis", "rq", "boto3", "botocore", "requests", "app"}
PIPELINE = Path(__file__).resolve().parents[2] / "jobs" / "pipeline"


def test_pipeline_sources_import_nothing_forbidden():
    offenders = []
    for path in PIPELINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            offenders += [(path.name, n) for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_the_pipeline_loads_none_of_them():
    code = ("import sys, jobs.pipeline.runner, jobs.pipeline.load; "
            f"print(sorted(m for m in {sorted(FORBIDDEN)!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=PIPELINE.parents[1], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
