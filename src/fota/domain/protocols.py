"""Device-management protocols and the several spellings the contract uses for them."""

from __future__ import annotations

from enum import StrEnum

from fota.domain.errors import InvalidRequest


class Protocol(StrEnum):
    LWM2M = "LWM2M"
    OMADM = "OMADM"
    HTTP = "HTTP"

    @classmethod
    def parse(cls, text: str) -> Protocol:
        """Campaigns say `OMA`, firmware says `OMD-DM`, the SDK's device enum says `OMDADM`: all are OMA-DM."""
        normalized = text.strip().upper()
        if normalized in ("OMA", "OMADM", "OMD-DM", "OMDADM", "OMA-DM"):
            return cls.OMADM
        try:
            return cls(normalized)
        except ValueError:
            raise InvalidRequest(f"unknown protocol {text!r}: expected LWM2M, OMA-DM or HTTP") from None

    @property
    def firmware_spelling(self) -> str:
        """How firmware packages and campaigns spell the protocol on the wire."""
        return "OMD-DM" if self is Protocol.OMADM else self.value
