"""The ``elicence`` command (``elicence.cli:app``) and the app mounting every service
(``elicence.app:create_app``)."""
