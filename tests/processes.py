"""Stopping the servers the tests start: terminate, then kill if it does not exit in time."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
