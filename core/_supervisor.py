"""Supervisor of one external program: ``python -I -S _supervisor.py PARENT_PID PROGRAM ARGV...``.

Started by ``core.tools.run_tool`` as the leader of a fresh process group; stdlib only. The
kernel sends it SIGTERM when the thread that started it dies (``PR_SET_PDEATHSIG``, Linux); it
then kills its whole group, the program and the program's own children with it. Otherwise it
waits for the program and exits as the program did (killed by the same signal, or its code).
"""

import os
import signal
import sys

__all__: list[str] = []

_PR_SET_PDEATHSIG = 1


def _kill_group(*_: object) -> None:
    os.killpg(0, signal.SIGKILL)


def _die_with_parent(parent: int) -> None:
    if os.getpgrp() != os.getpid():  # lead a group of its own: never kill the caller's
        os.setpgid(0, 0)
    signal.signal(signal.SIGTERM, _kill_group)
    try:
        import ctypes

        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (ImportError, OSError, AttributeError):  # not Linux: the timeout still holds
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        _kill_group()


def _main(argv: list[str]) -> None:
    _die_with_parent(int(argv[1]))
    program, args = argv[2], argv[3:]
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            os.execv(program, args)
        except OSError as exc:
            os.write(2, f"cannot start {program}: {exc.strerror}\n".encode(errors="replace"))
        os._exit(127)
    status = os.waitpid(pid, 0)[1]
    if os.WIFSIGNALED(status):
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


if __name__ == "__main__":
    _main(sys.argv)
