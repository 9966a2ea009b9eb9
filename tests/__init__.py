"""The test suite: unit (synth, handler), integration (emulator), end-to-end (browser); see README, Tests."""
