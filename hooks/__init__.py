"""Post-apply tooling: after `cdktf deploy`, publish web/ to the site bucket and invalidate the distribution.

- `release`: turns web/ plus the stack outputs into the files to publish (pure, no AWS).
- `publish`: compares them with the bucket, uploads safely, prunes, invalidates (boto3).
- `post_apply`: the command line, `python -m hooks.post_apply`.
- `deploy`: `cdktf deploy` and then the hook, in one command.
"""
