"""The web entry point: the staff console (`/console`) and the borrower app (`/app`),
server-rendered, Chinese by default with English one click away, every asset served locally.

Like `api` and `cli`, it only translates: HTTP forms and cookies into service calls, and the
results into HTML (docs/web.md, ADR 0011).
"""

from tailguard.web.app import create_web_app

__all__ = ["create_web_app"]
