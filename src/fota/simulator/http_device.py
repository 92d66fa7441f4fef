"""A simulated HTTP-protocol device: each `poll` is one check-in on `/device/v1`, then whatever it was told to do.

Synchronous on purpose: a test moves the server's clock, polls, and looks; nothing runs between polls.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import httpx


@dataclass
class HttpDevice:
    base_url: str
    device_id: str
    key: str
    firmware: str
    state: int = 0  # as LwM2M /5/0/3: 0 idle, 2 downloaded
    update_result: int = 0
    package: bytes | None = None
    files: dict[str, bytes] = field(default_factory=dict)  # installed configuration files by target path
    actions: list[str] = field(default_factory=list)  # every non-"none" instruction received, in order
    _pending: dict[str, object] = field(default_factory=dict)

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {self.key}"}, timeout=30)

    def poll(self) -> str:
        """One check-in; downloads or installs when told to. Returns the action the server answered."""
        with self._client() as client:
            r = client.post(
                f"/device/v1/devices/{self.device_id}/checkin",
                json={"firmware": self.firmware, "state": self.state, "updateResult": self.update_result},
            )
            r.raise_for_status()
            instruction = r.json()
            action = str(instruction["action"])
            if action == "download":
                self._download(client, instruction)
            elif action == "update":
                self._install()
        if action != "none":
            self.actions.append(action)
        return action

    def _download(self, client: httpx.Client, instruction: dict[str, object]) -> None:
        data = httpx.get(str(instruction["packageUrl"]), timeout=30).content
        if instruction.get("sha256") and hashlib.sha256(data).hexdigest() != instruction["sha256"]:
            self.state, self.update_result = 0, 5  # integrity check failure
            return
        self.package, self._pending = data, instruction
        self.state, self.update_result = 2, 0

    def _install(self) -> None:
        target = self._pending.get("targetPath")
        if isinstance(target, str) and self.package is not None:
            self.files[target] = self.package  # a configuration file: the firmware stays what it was
        else:
            self.firmware = str(self._pending.get("firmwareTo"))
        self.state, self.update_result = 0, 1

    def upload_logs(self, entries: list[dict[str, str]]) -> httpx.Response:
        with self._client() as client:
            return client.post(f"/device/v1/devices/{self.device_id}/logs", json={"logs": entries})
