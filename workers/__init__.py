"""Background workers: the Celery app, its tasks and the metadata extractors."""

from workers.celery import app as celery_app

__all__ = ["celery_app"]
