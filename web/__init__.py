"""The web workbench (``reviewopt serve``): server-rendered pages for programme officers,
panel chairs, viewers and administrators over the same database and the same jobs as the
command line.

Starlette routes each request to a page function that checks the user's role, reads what
the runs stored (or queues a run as a job, see :mod:`models.queue`), and renders a Jinja2
template with autoescaping on. Runs are ``reviewopt`` commands executed by the worker
(:mod:`scripts.worker`); no page holds business logic of its own.
"""
