"""The test suite: unit (synth, handler), integration (emulator), end-to-end (browser); see docs/testing.md."""
