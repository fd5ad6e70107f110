"""Test and benchmark harness: stacks of the real servers. Production code never imports it."""
