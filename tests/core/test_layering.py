import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "nahtlos"


def test_the_core_package_never_imports_prefect():
    offenders = [str(p.relative_to(CORE.parent)) for p in CORE.rglob("*.py")
                 if "import prefect" in p.read_text() or "from prefect" in p.read_text()]
    assert offenders == []


def test_importing_the_core_and_the_cli_loads_neither_prefect_nor_kubernetes():
    code = ("import sys, nahtlos.cli, nahtlos.planning, nahtlos.loader; nahtlos.cli.build_parser(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('prefect', 'kubernetes')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
