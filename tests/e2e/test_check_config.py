"""``switchboard check-config`` on the reference folder and on broken ones: one clear line,
exit status 1, never a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.conftest import REFERENCE, run


def errors_of(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if ": error: " in line]


def test_reference_is_clean_but_for_weak_secrets():
    result = run("check-config", "--config-dir", str(REFERENCE))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert errors_of(result.stdout) == []
    assert sum("weak password" in line for line in lines) == 2
    assert sum("weak PIN" in line for line in lines) == 2
    assert "pjsip.conf:21: warning: auth 'alice': weak password" in result.stdout
    assert "0 error(s), 6 warning(s) in 3 file(s)" in result.stderr


def test_json_format_has_the_same_findings():
    text = run("check-config", "--config-dir", str(REFERENCE)).stdout.splitlines()
    result = run("check-config", "--config-dir", str(REFERENCE), "--format", "json")
    report = json.loads(result.stdout)
    assert (report["errors"], report["warnings"]) == (0, 6)
    first = report["findings"][0]
    assert (first["file"], first["line"], first["severity"]) == ("pjsip.conf", 17, "warning")
    assert len(report["findings"]) == len(text)


def test_the_example_error_from_the_issue(reference_copy: Path):
    pjsip = reference_copy / "pjsip.conf"
    pjsip.write_text(pjsip.read_text().replace("auth=alice", "auth=alcie"))
    result = run("check-config", "--config-dir", str(reference_copy))
    assert result.returncode == 1
    assert errors_of(result.stdout) == [
        "pjsip.conf:18: error: endpoint 'alice' names auth 'alcie', which is not defined "
        "(did you mean 'alice'?)"
    ]


def write_binary(folder: Path) -> str:
    (folder / "pjsip.conf").write_bytes(os.urandom(512) + b"\x00")
    return "pjsip.conf:"


def write_missing(folder: Path) -> str:
    (folder / "pjsip.conf").unlink()
    return "pjsip.conf: error: file pjsip.conf not found"


def write_cycle(folder: Path) -> str:
    (folder / "a.conf").write_text("#include b.conf\n")
    (folder / "b.conf").write_text("#include a.conf\n")
    with (folder / "extensions.conf").open("a") as handle:
        handle.write("#include a.conf\n")
    return "b.conf:1: error: include cycle: extensions.conf -> a.conf -> b.conf -> a.conf"


def write_huge(folder: Path) -> str:
    (folder / "pjsip.conf").write_bytes(b"; padding\n" * 1_000_000)
    return "pjsip.conf: error: pjsip.conf is 9.5 MiB, over the 8 MiB limit"


def write_unterminated(folder: Path) -> str:
    with (folder / "voicemail.conf").open("a") as handle:
        handle.write(";-- the rest is commented out\n103 => 4242,carol\n")
    return "voicemail.conf:17: error: block comment ';--' is never closed"


@pytest.mark.parametrize(
    "breaker", [write_binary, write_missing, write_cycle, write_huge, write_unterminated]
)
def test_bad_input_gives_one_clear_error_and_status_1(reference_copy: Path, breaker):
    expected = breaker(reference_copy)
    result = run("check-config", "--config-dir", str(reference_copy))
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    errors = errors_of(result.stdout)
    assert len(errors) == 1, result.stdout
    assert errors[0].startswith(expected), errors[0]


def test_missing_folder():
    result = run("check-config", "--config-dir", "/nonexistent/switchboard")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: config folder /nonexistent/switchboard does not exist"


def test_missing_voicemail_prompts_are_named_per_language(reference_copy: Path):
    pjsip = reference_copy / "pjsip.conf"
    pjsip.write_text(pjsip.read_text().replace("language=fr", "language=de"))
    result = run("check-config", "--config-dir", str(reference_copy))
    assert result.returncode == 0, result.stdout + result.stderr
    found = [line for line in result.stdout.splitlines() if "voicemail prompts missing" in line]
    assert len(found) == 1
    assert found[0].startswith("extensions.conf:")
    assert "for language 'de': " in found[0] and "vm-intro" in found[0]
    assert "asterisk-core-sounds-de-gsm" in found[0]
