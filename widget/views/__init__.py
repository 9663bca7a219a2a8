"""HTTP only: parse, make one domain call, respond. Mounted by audience (embed, api)."""
