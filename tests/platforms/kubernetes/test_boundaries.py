"""The kubernetes client stays inside the Kubernetes backend."""

from pathlib import Path

CORE = Path(__file__).resolve().parents[3] / "nahtlos"
BACKEND = CORE / "platforms" / "kubernetes"


def test_only_the_kubernetes_backend_imports_the_kubernetes_client():
    offenders = [str(path.relative_to(CORE.parent)) for path in CORE.rglob("*.py")
                 if BACKEND not in path.parents
                 and any(line.lstrip().startswith(("import kubernetes", "from kubernetes"))
                         for line in path.read_text().splitlines())]
    assert offenders == []
