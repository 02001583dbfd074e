"""opinion-monitor: public-opinion and review keyword monitoring for e-commerce stores.

Data flow of one source run (see ``monitor.pipeline``), then delivery (``monitor.delivery``)::

    fetch -> parse -> normalize -> dedupe -> analyze -> store -> alert -> incidents -> outbox
    outbox -> suppression stages -> render per channel kind -> apprise
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
