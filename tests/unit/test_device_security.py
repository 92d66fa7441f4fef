"""Device-side security without sockets: the admission rule, PSK validation, the key cipher and the PSK cache."""

from __future__ import annotations

from typing import Any

import pytest

from fota.adapters.lwm2m.credentials import PskCredentials
from fota.adapters.psk_cipher import CipherError, PskCipher, cipher_from_secret
from fota.domain.errors import InvalidRequest
from fota.domain.security import DeviceSecurity, SecurityMode, check_psk, refusal
from fota.services.device_security import admission_refusal_in

SECRET = "a test secret of enough length"


@pytest.mark.parametrize(
    ("mode", "dtls_device", "over_dtls", "allow_nosec", "refused"),
    [
        (SecurityMode.PSK, "1", True, False, False),  # its own identity over DTLS
        (SecurityMode.PSK, "2", True, True, True),  # another device's identity
        (SecurityMode.PSK, None, False, True, True),  # a psk device over plain CoAP, NoSec allowed or not
        (SecurityMode.PSK, None, False, False, True),
        (SecurityMode.NOSEC, None, False, True, False),
        (SecurityMode.NOSEC, None, False, False, True),  # NoSec needs the operator's consent
        (SecurityMode.NOSEC, "1", True, True, True),  # a stale DTLS key of a device switched to nosec
    ],
)
def test_admission(
    mode: SecurityMode, dtls_device: str | None, over_dtls: bool, allow_nosec: bool, refused: bool
) -> None:
    reason = refusal(device_id="1", mode=mode, dtls_device_id=dtls_device, over_dtls=over_dtls, allow_nosec=allow_nosec)
    assert (reason is not None) == refused, reason


class _Records:
    """A unit of work whose device security table holds `records`."""

    def __init__(self, *records: DeviceSecurity) -> None:
        self.device_security = self
        self.records = {r.device_id: r for r in records}

    def get(self, device_id: str) -> DeviceSecurity | None:
        return self.records.get(device_id)


def test_admission_reads_the_device_record_and_counts_none_as_nosec() -> None:
    psk = _Records(DeviceSecurity("1", SecurityMode.PSK, "id-1"))
    admit = admission_refusal_in
    assert admit(psk, device_id="1", dtls_device_id="1", over_dtls=True, allow_nosec=False) is None  # type: ignore[arg-type]
    assert admit(psk, device_id="1", dtls_device_id=None, over_dtls=False, allow_nosec=True)  # type: ignore[arg-type]
    assert admit(_Records(), device_id="1", dtls_device_id=None, over_dtls=False, allow_nosec=True) is None  # type: ignore[arg-type]
    assert admit(_Records(), device_id="1", dtls_device_id=None, over_dtls=False, allow_nosec=False)  # type: ignore[arg-type]


def test_psk_validation() -> None:
    assert check_psk("dev-1", "00" * 16) == bytes(16)
    for identity, key in (("", "00"), ("x" * 33, "00"), ("x", ""), ("x", "zz"), ("x", "00" * 17), ("a\nb", "00")):
        with pytest.raises(InvalidRequest):
            check_psk(identity, key)


def test_cipher_round_trip_binds_the_row_and_the_secret() -> None:
    cipher = PskCipher(SECRET)
    sealed = cipher.encrypt(b"key", context=b"350000000000001")
    assert b"key" not in sealed
    assert sealed != cipher.encrypt(b"key", context=b"350000000000001")  # a fresh nonce each time
    assert cipher.decrypt(sealed, context=b"350000000000001") == b"key"
    with pytest.raises(CipherError):
        cipher.decrypt(sealed, context=b"350000000000002")  # copied to another device's row
    with pytest.raises(CipherError):
        PskCipher(SECRET + "!").decrypt(sealed, context=b"350000000000001")
    assert cipher_from_secret("") is None
    assert cipher_from_secret("short") is None
    with pytest.raises(ValueError, match="at least"):
        PskCipher("short")


class _Rows:
    def __init__(self, cipher: PskCipher) -> None:
        self.cipher = cipher
        self.rows: dict[str, tuple[str, bytes]] = {}
        self.reads = 0

    def add(self, identity: str, device_id: str, key: bytes) -> None:
        self.rows[identity] = (device_id, self.cipher.encrypt(key, context=device_id.encode()))

    def encrypted_key(self, identity: str) -> tuple[str, bytes] | None:
        self.reads += 1
        return self.rows.get(identity)


class _Uow:
    def __init__(self, rows: _Rows) -> None:
        self.device_security = rows

    def __enter__(self) -> _Uow:
        return self

    def __exit__(self, *args: Any) -> None:
        pass


def test_psk_cache_hits_expires_and_remembers_misses_briefly() -> None:
    cipher = PskCipher(SECRET)
    rows = _Rows(cipher)
    rows.add("dev-1", "350000000000001", b"k1")
    now = [0.0]
    credentials = PskCredentials(lambda: _Uow(rows), cipher, ttl=30, negative_ttl=5, monotonic=lambda: now[0])  # type: ignore[arg-type, return-value]

    key, claim = credentials.find_dtls_psk(b"dev-1")
    assert (key, claim.device_id) == (b"k1", "350000000000001")
    credentials.find_dtls_psk(b"dev-1")
    assert rows.reads == 1  # the handshake's repeated lookups come from memory

    for _ in range(3):
        with pytest.raises(KeyError):
            credentials.find_dtls_psk(b"nobody")
    assert rows.reads == 2  # an unknown identity costs one read per negative_ttl

    rows.add("dev-1", "350000000000001", b"k2")  # a new key, provisioned meanwhile
    now[0] = 31.0
    assert credentials.find_dtls_psk(b"dev-1")[0] == b"k2"
    with pytest.raises(KeyError):
        credentials.find_dtls_psk(b"\xff\xfe")  # not UTF-8: names nobody, without a read
