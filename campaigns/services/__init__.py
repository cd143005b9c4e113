"""Services: every write of the domain goes through a typed, keyword-only ``<entity>_<verb>``
function in these modules.
"""
