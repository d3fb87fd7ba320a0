"""What the benchmarks print about the machine they ran on (shared by bch.py and kernels.py)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shlex
import sys
from typing import Any


def package_version(dist: str) -> str | None:
    """Installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    """The processor's model name from /proc/cpuinfo (or platform's guess)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def command_line(*env_vars: str) -> str:
    """The command as it could be typed again, with the named environment variables."""
    env = "".join(f"{name}={os.environ.get(name, '')} " for name in env_vars)
    return f"cd {shlex.quote(os.getcwd())} && {env}" + shlex.join([sys.executable, *sys.argv])


def print_header(title: str, info: dict[str, Any], command: str) -> None:
    """The benchmark's title, the command that ran it and the machine it ran on."""
    print(title)
    print(f"command: {command}")
    for key, value in info.items():
        print(f"  {key}: {value}")
