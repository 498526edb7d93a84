"""One function call in a forked child, its result sent back pickled through a pipe.

Used where a call must run on a copy of this process's state: the long-audio phone passes
(each on a copy of the decoder holding its word hypothesis, beside the parent's next word
pass) and espeak-ng synthesis (on a copy of a library that has never synthesized, so that
its output does not depend on what came before). POSIX only: callers check `available()`
first.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import threading
from collections.abc import Callable


def available() -> bool:
    """Whether `start` may fork here: the OS has fork and no other Python thread runs (a
    fork copies only the calling thread; a lock another thread holds would stay locked
    in the child forever)."""
    return hasattr(os, "fork") and threading.active_count() == 1


def start(call: Callable[[], object]) -> tuple[int, int]:
    """Fork; the child runs `call()`, writes its pickled result to a pipe and exits at once
    (no atexit handlers, no flushing of the parent's buffers; exit status 1 when `call`
    raised). Returns (child pid, read end of the pipe) for `collect`."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            # A collection would walk (and so copy, page by page) the parent's heap.
            gc.disable()
            os.close(read)
            view = memoryview(pickle.dumps(call()))
            while view:
                view = view[os.write(write, view):]
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    return pid, read


def collect(pid: int, read: int) -> tuple[bool, object]:
    """Wait for a `start`ed child: (True, its result), or (False, None) when it raised or
    died. Closes the pipe and reaps the child."""
    chunks = []
    try:
        while chunk := os.read(read, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(read)
        _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not chunks:
        return False, None
    return True, pickle.loads(b"".join(chunks))


def stop(pid: int, read: int) -> None:
    """Kill a `start`ed child whose result is no longer wanted (the caller failed or was
    interrupted), reap it and close its pipe."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    os.close(read)
