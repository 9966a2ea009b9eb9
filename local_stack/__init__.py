"""Local mode: the same Terraform applied by the real CLI into an embedded AWS emulator (moto), published by the
same hook, and served on 127.0.0.1. `pipenv run local` runs it (see `local_stack.run`)."""
