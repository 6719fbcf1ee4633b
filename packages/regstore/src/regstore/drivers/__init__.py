"""The drivers that ship with the core: inmemory and filesystem."""
