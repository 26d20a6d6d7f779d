# Verify Desk: `make run` starts the desk with demo data; `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# The address e-mailed links point at: the one `make run` serves, unless SITE_URL is set.
SITE_URL ?= http://$(HOST):$(PORT)

.PHONY: run test install system-deps lint check clean

# System packages: ffmpeg reads videos, ExifTool is one of the readers, Pango lays out PDF reports,
# Chromium and its driver render captured posts, openssl checks time-stamp tokens and poppler's pdftotext
# reads the PDF reports back in the tests.
# Installed with apt-get when missing and we are root; otherwise the command to run is printed.
SYSTEM_PACKAGES := ffmpeg libimage-exiftool-perl libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core chromium chromium-driver openssl poppler-utils
system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "Verify Desk needs: sudo apt-get install $$missing" >&2; exit 1; fi; \
	fi

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Verify Desk needs Python 3.11; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed system-deps

# The desk with embedded defaults: SQLite, files under var/, and a real Celery
# worker on kombu's filesystem broker (no Redis server needed), with beat inside it
# for the periodic sweeps (stalled readings, overdue cases).
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_seeds
	$(PY) manage.py create_demo_users
	@echo "Desk at http://$(HOST):$(PORT)/admin/, links in e-mails on $(SITE_URL)  (Ctrl-C stops the web server and the worker)"
	@trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	export SITE_URL='$(SITE_URL)'; \
	$(VENV)/bin/celery -A workers worker -Q celery,screening --beat --schedule=var/celerybeat-schedule --loglevel=info --concurrency=2 & worker=$$!; \
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

check: install
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
