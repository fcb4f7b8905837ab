"""deploy/supervise.py turns the Procfile into a supervisord configuration that supervisord itself accepts:
every process restarted with back-off, stopped as a group, its output on the terminal."""

import configparser

import pytest
from supervisor.datatypes import RestartUnconditionally
from supervisor.options import ServerOptions

from deploy.supervise import configuration, read_procfile
from tests.conftest import REPO


def test_every_procfile_process_is_supervised(tmp_path) -> None:
    processes = read_procfile(REPO / "Procfile")
    assert [name for name, _ in processes] == [
        "asr",
        "voice",
        "tts",
        "voicechat",
        "webrtc",
        "catalog",
        "llm",
        "gateway",
    ]
    conf = tmp_path / "supervisord.conf"
    conf.write_text(configuration(processes, tmp_path))
    options = ServerOptions()
    options.realize(["-c", str(conf)])  # supervisord's own parser: raises on a bad configuration
    programs = {group.name: group.process_configs[0] for group in options.process_group_configs}
    assert set(programs) == {name for name, _ in processes}
    for program in programs.values():
        assert program.autorestart is RestartUnconditionally and program.startretries >= 5 and program.stopasgroup
        assert program.command.startswith("/") and "exec " in program.command


def test_percent_signs_survive_supervisord_expansion(tmp_path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text("# a comment\n\nweb: echo 100% ${PORT:-8000}\n")
    parser = configparser.ConfigParser()
    parser.read_string(configuration(read_procfile(procfile), tmp_path))
    assert "echo 100%% ${PORT:-8000}" in parser.get("program:web", "command", raw=True)


@pytest.mark.parametrize("line", ["no colon here", "bad name: cmd", "web:   "])
def test_malformed_procfile_lines_are_refused(tmp_path, line: str) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text(line + "\n")
    with pytest.raises(SystemExit, match="expected `name: command`"):
        read_procfile(procfile)
