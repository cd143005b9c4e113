"""What every benchmark records about where it ran."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any


def machine(*packages: str) -> dict[str, Any]:
    """The CPU, cores, Python and platform, and the versions of ``packages``."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        **{package: version(package) for package in packages},
    }
