import json
import subprocess
import sys

import pytest

from nahtlos.cli import main

DEMO = "deployments/buergerservice.yaml"
RELEASE = ["--to", "registry=2.1.0", "--to", "forms=2.0.0", "--to", "gateway=2.0.0", "--to", "portal=1.3.0"]


def test_plan_prints_waves_reasons_session_steps_and_blast_radius(capsys):
    assert main(["plan", DEMO, *RELEASE]) == 0
    out = capsys.readouterr().out
    assert "1     portal, registry" in out
    assert "registry before forms" in out and "forms before gateway" in out
    assert "migrate 1 -> 2" in out


def test_plan_json_has_the_documented_fields(capsys):
    assert main(["plan", DEMO, *RELEASE, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["releasable"] is True
    assert data["waves"] == [["portal", "registry"], ["forms"], ["gateway"]]
    assert data["session_formats"] == [1, 1, 2]
    assert data["blast_radius"]["forms"] == ["documents", "gateway", "portal"]
    assert data["reasons"] == []


def test_a_refused_plan_exits_3_with_reasons(capsys):
    assert main(["plan", DEMO, "--to", "gateway=2.0.0", "--json"]) == 3
    data = json.loads(capsys.readouterr().out)
    assert data["releasable"] is False and "forms-api" in data["reasons"][0]


@pytest.mark.parametrize("args, message", [
    (["--to", "nope=1.0.0"], "no module 'nope'"),
    (["--to", "forms=9.0.0"], "no version '9.0.0'"),
    (["--to", "forms"], "is not MODULE=VERSION"),
    ([], "no target given"),
])
def test_invalid_targets_exit_2_with_one_line(capsys, args, message):
    assert main(["plan", DEMO, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_broken_descriptor_exits_2_naming_file_path_and_line_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(open(DEMO).read().replace("deployed: 1.4.0", "deployed: 1.4"))
    proc = subprocess.run([sys.executable, "-m", "nahtlos.cli", "plan", str(bad), "--to", "forms=2.0.0"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert f"{bad}:" in proc.stderr and "modules.forms.deployed" in proc.stderr
    assert "Traceback" not in proc.stderr
