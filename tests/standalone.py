"""Running an exported plan script as its user would: a fresh interpreter with pandas and numpy and nothing of ours."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Importable here, not where the script goes: blocked, so a script that needs one fails (pyarrow blocked also
# makes pandas use its own string type, as a pandas-and-numpy-only install does).
BLOCKED = ("pyarrow", "scipy", "sklearn", "matplotlib", "rapidfuzz", "app", "jobs", "bench", "harness", "tests")
_RUN = ("import runpy, sys\n"
        "for name in {blocked!r}:\n"
        "    sys.modules[name] = None\n"
        "sys.argv = ['plan.py', {raw!r}, {out!r}]\n"
        "runpy.run_path('plan.py', run_name='__main__')\n")


def run_plan_script(script: str | bytes, raw: Path, folder: Path) -> Path:
    """The script saved as `folder`/plan.py and run there on `raw` (-I: not even the folder is importable)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "plan.py"
    path.write_bytes(script if isinstance(script, bytes) else script.encode())
    out = folder / "out.csv"
    done = subprocess.run([sys.executable, "-I", "-c", _RUN.format(blocked=BLOCKED, raw=str(raw), out=str(out))],
                          cwd=folder, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out
