# Production image for the web, worker and beat services (see docker-compose.yml). Workers also need
# Chromium and its driver (post capture: screenshot, PDF, archive) and ExifTool (the exiftool reader).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
       chromium chromium-driver libimage-exiftool-perl \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 1000 desk
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
RUN DEBUG=0 SECRET_KEY=build-only ALLOWED_HOSTS=build python manage.py collectstatic --noinput --verbosity 0
# What the app writes as desk: evidence files (MEDIA_ROOT, the compose `media` volume, which starts
# as a copy of this directory, owner included) and the local data dir (VERIFY_DATA_DIR, default /app/var).
# Static files are collected above and only read.
RUN mkdir -p /data/media /app/var && chown desk:desk /data/media /app/var
USER desk
EXPOSE 8000
