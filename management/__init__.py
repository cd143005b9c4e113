"""The Management API: the back-office endpoints (``/v1/…``, bearer tokens), mirroring what the
Campaign Manager does, with its OpenAPI schema.
"""
