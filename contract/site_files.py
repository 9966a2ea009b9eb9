"""How the site's files meet the distribution: what the stack configures and the tools that publish and serve
the site rely on. Plain Python, shared by `modules/` and the tools without importing CDKTF."""

INDEX_DOCUMENT = "index.html"
"""The distribution's default root object: the page served at `/`."""

PRIVATE_PREFIX = ".publish/"
"""Where the post-apply hook keeps its lock and release records in the site bucket. The bucket policy denies the
distribution reading it, so none of it is ever served."""
