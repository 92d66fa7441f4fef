"""fota: an open firmware-over-the-air campaign server for LwM2M fleets."""

__version__ = "0.1.0"
