"""Firmware delivery to devices, shared by the HTTP route (Range requests) and the LwM2M server (CoAP Block2)."""
