"""The fleet simulator: LwM2M 1.0/1.1 clients over CoAP/UDP that register, check in and take firmware updates, and
step-by-step HTTP-protocol devices (`http_device.py`)."""
