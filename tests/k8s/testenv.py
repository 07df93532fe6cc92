"""A real Kubernetes control plane on loopback for tests: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok (simulated nodes and pods).

The binaries come from ``scripts/k8s/build.sh`` (cached under
``~/.cache/nahtlos/k8s/<version>``). Every process is started by us, recorded by
PID in the work directory, and stopped by that PID; nothing is found by name.

Used by the session fixture in ``conftest.py`` and by ``scripts/k8s/up.sh`` /
``down.sh`` (``python -m tests.k8s.testenv up|down DIR``) for manual debugging.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from tests.k8s.pki import write_pki

ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = Path(__file__).with_name("crds")
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
NODE_COUNT = 2
ENABLE_HINT = ("build the control plane with scripts/k8s/build.sh (needs Go; 8-22 min cold on 2 cores, "
               "under a second when cached)")


def k8s_version() -> str:
    match = re.search(r"^\s*k8s\.io/kubernetes (v\S+)", (ROOT / "scripts/k8s/go.mod").read_text(), re.M)
    assert match, "scripts/k8s/go.mod must require k8s.io/kubernetes"
    return match.group(1)


def find_binaries() -> Path | None:
    """The directory holding a complete, finished build, or None."""
    explicit = os.environ.get("NAHTLOS_K8S_BIN")
    directory = Path(explicit) if explicit else Path.home() / ".cache/nahtlos/k8s" / k8s_version()
    complete = (directory / ".inputs.sha256").exists() and (directory / "kwok-stages.yaml").exists()
    if complete and all(os.access(directory / name, os.X_OK) for name in BINARIES):
        return directory
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ControlPlane:
    bin_dir: Path
    work_dir: Path
    server: str = ""
    kubeconfig: Path = Path()
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start_process(self, name: str, *args: str) -> None:
        logs = self.work_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{name}.log", "wb") as log:
            process = subprocess.Popen([str(self.bin_dir / name), *args], stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True,
                                       env={**os.environ, "HOME": str(self.work_dir)})
        self.processes[name] = process
        (self.work_dir / f"{name}.pid").write_text(str(process.pid))

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.work_dir / "logs" / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_for(self, name: str, url: str, *, timeout: float, ca_file: Path | None = None) -> None:
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca_file)) if ca_file else False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited with {self.processes[name].returncode}:\n{self.log_tail(name)}")
            try:
                if httpx.get(url, verify=verify, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{name} not ready at {url} after {timeout:.0f} s:\n{self.log_tail(name)}")

    def stop(self) -> None:
        """Stop every process we started, newest first: SIGTERM, then SIGKILL after 10 s."""
        for name, process in reversed(list(self.processes.items())):
            stop_pid(process.pid, wait=process.wait)
            (self.work_dir / f"{name}.pid").unlink(missing_ok=True)
        self.processes.clear()


def stop_pid(pid: int, *, wait=None) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if wait is not None:
            try:
                wait(timeout=0.2)
                return
            except subprocess.TimeoutExpired:
                continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if wait is not None:
        wait(timeout=10)


def start(bin_dir: Path, work_dir: Path) -> ControlPlane:
    """Start the whole control plane; on any failure stop what was started and re-raise."""
    plane = ControlPlane(bin_dir=bin_dir, work_dir=work_dir)
    try:
        _start_components(plane)
        from tests.k8s import bootstrap  # imports the kubernetes client only once the plane runs

        bootstrap.prepare_cluster(plane.kubeconfig, crd_dir=CRD_DIR, nodes=NODE_COUNT)
    except BaseException:
        plane.stop()
        raise
    return plane


def _start_components(plane: ControlPlane) -> None:
    d = plane.work_dir
    pki = write_pki(d / "pki")
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    peer_url = f"http://127.0.0.1:{peer_port}"
    plane.start_process("etcd", "--name=nahtlos", f"--data-dir={d / 'etcd'}",
                        f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
                        f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
                        f"--initial-cluster=nahtlos={peer_url}", "--unsafe-no-fsync=true",
                        "--listen-metrics-urls=", "--log-level=warn")
    plane.wait_for("etcd", f"{etcd_url}/health", timeout=60)

    plane.server = f"https://127.0.0.1:{api_port}"
    plane.start_process(
        "kube-apiserver", f"--etcd-servers={etcd_url}", "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1", f"--secure-port={api_port}", f"--cert-dir={d / 'pki'}",
        # No master endpoints for the "kubernetes" Service: a loopback address is refused there.
        "--endpoint-reconciler-type=none",
        f"--tls-cert-file={pki['serving']}", f"--tls-private-key-file={pki['serving_key']}",
        f"--client-ca-file={pki['ca']}", "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki['sa_pub']}", f"--service-account-signing-key-file={pki['sa_key']}",
        "--service-cluster-ip-range=10.96.0.0/16", "--allow-privileged=true",
        # Pods must not wait for the default ServiceAccount the controller creates moments later.
        "--disable-admission-plugins=ServiceAccount", "--profiling=false")
    plane.wait_for("kube-apiserver", f"{plane.server}/readyz", timeout=120, ca_file=pki["ca"])

    plane.kubeconfig = d / "admin.kubeconfig"
    plane.kubeconfig.write_text(yaml.safe_dump(kubeconfig(
        server=plane.server, ca=pki["ca"], user={"client-certificate": str(pki["admin"]),
                                                 "client-key": str(pki["admin_key"])})))
    common = [f"--kubeconfig={plane.kubeconfig}", "--leader-elect=false", "--secure-port=0"]
    plane.start_process("kube-controller-manager", *common, f"--root-ca-file={pki['ca']}",
                        f"--service-account-private-key-file={pki['sa_key']}",
                        "--use-service-account-credentials=false", "--profiling=false")
    plane.start_process("kube-scheduler", *common, "--profiling=false")
    plane.start_process("kwok", f"--kubeconfig={plane.kubeconfig}", "--manage-all-nodes=true",
                        f"--config={plane.bin_dir / 'kwok-stages.yaml'}", "--cidr=10.244.0.0/16",
                        "--node-lease-duration-seconds=40")


def kubeconfig(*, server: str, ca: Path, user: dict[str, str], namespace: str = "default") -> dict:
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "nahtlos-test",
        "clusters": [{"name": "nahtlos-test", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": "user", "user": user}],
        "contexts": [{"name": "nahtlos-test",
                      "context": {"cluster": "nahtlos-test", "user": "user", "namespace": namespace}}],
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("up", "down"):
        print("usage: python -m tests.k8s.testenv up|down DIR", file=sys.stderr)
        return 2
    work_dir = Path(argv[1]).resolve()
    if argv[0] == "down":
        for name in reversed(BINARIES):
            pid_file = work_dir / f"{name}.pid"
            if pid_file.exists():
                stop_pid(int(pid_file.read_text()))
                pid_file.unlink()
        return 0
    bin_dir = find_binaries()
    if bin_dir is None:
        print(f"no Kubernetes binaries: {ENABLE_HINT}", file=sys.stderr)
        return 1
    work_dir.mkdir(parents=True, exist_ok=True)
    plane = start(bin_dir, work_dir)
    print(f"export KUBECONFIG={plane.kubeconfig}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
