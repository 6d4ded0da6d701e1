"""The README's quickstart and .ci/run must not drift apart."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [line for block in blocks for line in block.splitlines()
            if line.strip() and not line.startswith("#")]


def test_quickstart_is_exactly_two_commands_install_and_run_then_install_and_test():
    commands = quickstart_commands()
    assert len(commands) == 2
    assert "pip install ." in commands[0] and "twistd -n smsgw" in commands[0]
    assert "pip install '.[test]'" in commands[1] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert quickstart_commands()[1] in ci
