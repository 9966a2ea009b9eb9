"""The constructs: one file per tier (data, api, frontend), the environment config, and the stack wiring them."""
