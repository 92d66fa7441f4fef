"""LwM2M over CoAP: the registration interface, device management and firmware delivery (aiocoap)."""
