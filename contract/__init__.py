"""What the stack and its tools agree on, in plain Python (no CDKTF, no provider): the settings of each
environment and their rules (`config`, `rules`), the outputs every tool reads (`outputs`), the function's
packaging and environment (`functions`), the site's layout in the bucket (`site_files`) and the security headers
(`headers`). `modules/` builds the stack from these; the hook, local mode and the operations read them."""
