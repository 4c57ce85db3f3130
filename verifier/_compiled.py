"""Refuse compiled modules of this package older than their source (``credential/_compiled.py``);
imported first by ``verifier/__init__.py``."""

from credential._compiled import refuse_stale_builds

refuse_stale_builds(__file__)
