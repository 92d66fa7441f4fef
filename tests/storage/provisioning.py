"""The firmware storage tests provision through the admin service: make M, model X, from 1 to 2, over LwM2M."""

from __future__ import annotations

from fota.adapters.storage.unit_of_work import SqlUnitOfWorkFactory
from fota.clock import Clock
from fota.services import admin


def add_firmware(uow: SqlUnitOfWorkFactory, clock: Clock) -> None:
    admin.create_firmware(
        uow=uow(),
        clock=clock,
        name="fw",
        make="M",
        model="X",
        firmware_from="1",
        firmware_to="2",
        protocol="LWM2M",
        release_note=None,
        launch_date=None,
    )
