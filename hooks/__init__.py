"""The post-apply hook: after a deploy, publish web/ to the site bucket and invalidate the distribution.

- `release`: turns web/ plus the stack outputs into the files to publish (pure, no AWS).
- `publish`: the library, `publish_site`: compares them with the bucket, uploads safely, prunes, invalidates.
- `post_apply`: its command line, `python -m hooks.post_apply` (`pipenv run publish`).
"""
