"""The post-apply hook: after a deploy, publish web/ to the site bucket and invalidate the distribution.

- `release`: turns web/ plus the stack outputs into the files to publish (pure, no AWS).
- `storage`: the S3 and CloudFront primitives (clients, listing, uploads, deletes, invalidations), no releases.
- `results`: what a publish is given and gives back (`Target`, `PublishOptions`, `PublishResult`, `PublishError`).
- `publish`: the library, `publish_site`: compares them with the bucket, uploads safely, prunes, invalidates.
- `rollback`: release history and rollback, on the same primitives.
- `post_apply`: its command line, `python -m hooks.post_apply` (`pipenv run publish`).
"""
