# sscard: two entry points for people (README): `make demo` and `make test`.
# Both install what is missing (Debian packages, .venv, the project) and are quick
# when nothing changed: each step leaves a stamp that depends on its inputs.

PYTHON ?= python3
VENV   := .venv
STAMPS := .stamps
DEBIAN_PACKAGES := python3 python3-venv python3-dev gcc swig libpcsclite-dev \
	pcscd vsmartcard-vpcd pcsc-tools opensc softhsm2 libzbar0 fonts-noto-cjk \
	postgresql chromium systemd

.PHONY: demo test bench deps clean

deps: $(STAMPS)/debian $(VENV)/.installed

$(STAMPS)/debian: Makefile scripts/ensure-debian-packages
	@mkdir -p $(STAMPS)
	@scripts/ensure-debian-packages $(DEBIAN_PACKAGES)
	@touch $@

# pip -qq: only errors are shown (a newcomer sees the steps, not the index and build-backend
# warnings); a failing install still prints pip's ERROR lines and stops make.
PIP := $(VENV)/bin/python -m pip --disable-pip-version-check -qq

$(VENV)/.installed: pyproject.toml $(STAMPS)/debian
	@test -x $(VENV)/bin/python || { echo "sscard: making $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "sscard: installing the project and its Python packages into $(VENV) (a few minutes the first time)"
	@$(PIP) install --upgrade pip
	@$(PIP) install -e '.[dev]'
	@touch $@

demo: deps
	@$(VENV)/bin/python scripts/demo.py

test: deps
	@$(VENV)/bin/python -m pytest -q

bench: deps
	@$(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) $(STAMPS) var build *.egg-info
