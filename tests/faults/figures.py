"""The fault suite's figures (requests generated, faults injected, devices lost), appended as JSON lines to the file
named by FOTA_FAULT_FIGURES when it is set (`make soak` sets it); docs/reliability.md records them."""

from __future__ import annotations

import json
import os
import time
from typing import Any


def record(test: str, **figures: Any) -> None:
    path = os.environ.get("FOTA_FAULT_FIGURES")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({"test": test, "at": time.strftime("%Y-%m-%dT%H:%M:%S"), **figures}) + "\n")
