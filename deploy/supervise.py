"""Run the Procfile's processes under supervisord: a process that dies is restarted, the others keep serving.

    python deploy/supervise.py [--procfile Procfile] [--run-dir build/run]

The Procfile stays the one list of processes (`name: command`). This writes a supervisord configuration
for it into the run directory and replaces itself with supervisord in the foreground:
- every process is restarted when it exits, whatever the cause (a crash, SIGKILL, the OOM killer);
- one that dies again within START_SECONDS of being started is retried after 1, 2, 3, … s
  (supervisord's back-off), and given up after START_RETRIES tries with a FATAL line in the log;
- each start, exit and give-up is one line of supervisord's log on standard output, next to the
  processes' own output;
- Ctrl-C (SIGINT) or SIGTERM stops every process (SIGTERM to its process group, SIGKILL after
  STOP_WAIT_SECONDS) and then supervisord.

`supervisorctl -c build/run/supervisord.conf status` lists the processes and their uptimes.
"""

import argparse
import os
import secrets
import shlex
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START_SECONDS = 3
START_RETRIES = 10
STOP_WAIT_SECONDS = 15


def read_procfile(path: Path) -> list[tuple[str, str]]:
    processes = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, command = line.partition(":")
        if not sep or not name.strip().isidentifier() or not command.strip():
            raise SystemExit(f"{path}:{number}: expected `name: command`")
        processes.append((name.strip(), command.strip()))
    if not processes:
        raise SystemExit(f"{path} lists no processes")
    return processes


def escape(value: str) -> str:
    """supervisord expands %(...)s in values; a literal % is written %%."""
    return value.replace("%", "%%")


def program_section(name: str, command: str) -> str:
    # A shell expands the Procfile's ${VAR:-default} and then execs the process, so signals reach it directly.
    shell = shutil.which("sh") or "/bin/sh"
    return f"""
[program:{name}]
command={escape(shell)} -c {escape(shlex.quote("exec " + command))}
directory={escape(str(REPO))}
autostart=true
autorestart=true
startsecs={START_SECONDS}
startretries={START_RETRIES}
stopsignal=TERM
stopwaitsecs={STOP_WAIT_SECONDS}
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
"""


def configuration(processes: list[tuple[str, str]], run_dir: Path) -> str:
    socket = run_dir / "supervisor.sock"
    # The control socket is the owner's alone (0700) and asks for a password made for this run; the
    # configuration file that holds it is written 0600.
    password = secrets.token_urlsafe(16)
    # In the foreground supervisord logs to standard output by itself; its log file is not needed.
    header = f"""[supervisord]
nodaemon=true
logfile=/dev/null
logfile_maxbytes=0
loglevel=info
pidfile={escape(str(run_dir / "supervisord.pid"))}
directory={escape(str(REPO))}
{"user=root" if os.geteuid() == 0 else ""}

[unix_http_server]
file={escape(str(socket))}
chmod=0700
username=voicefleet
password={password}

[supervisorctl]
serverurl=unix://{escape(str(socket))}
username=voicefleet
password={password}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
"""
    return header + "".join(program_section(name, command) for name, command in processes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procfile", type=Path, default=REPO / "Procfile")
    parser.add_argument("--run-dir", type=Path, default=REPO / "build" / "run")
    args = parser.parse_args()
    args.run_dir.mkdir(parents=True, exist_ok=True)
    conf = args.run_dir / "supervisord.conf"
    conf.touch(mode=0o600)
    conf.chmod(0o600)
    conf.write_text(configuration(read_procfile(args.procfile), args.run_dir.resolve()))
    supervisord = shutil.which("supervisord", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if supervisord is None:
        raise SystemExit("supervisord not found: pip install 'voicefleet[fleet]'")
    os.execv(supervisord, [supervisord, "-c", str(conf)])


if __name__ == "__main__":
    main()
