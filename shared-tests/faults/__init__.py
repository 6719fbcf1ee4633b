"""Tools that break things on purpose: a fault-injecting HTTP proxy, crash and load harnesses."""
