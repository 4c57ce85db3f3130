"""The web pages people use: the counter scanner, the citizen wallet and the department console.

Plain HTML, CSS and JavaScript shipped inside the package (no CDN: counters have no internet),
served by one router that ``elicence.app`` includes. The pages only call the public HTTP APIs
(``/verify``, ``/wallet/licences...``, ``/issuer/...``); they hold no logic of their own about
credentials.
"""

from .routes import router

__all__ = ["router"]
