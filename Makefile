# sscard: two entry points for people (README): `make demo` and `make test`.
# Both install what is missing (Debian packages, .venv, the project) and are quick
# when nothing changed: each step leaves a stamp that depends on its inputs.

PYTHON ?= python3
VENV   := .venv
STAMPS := .stamps
DEBIAN_PACKAGES := python3 python3-venv python3-dev gcc swig libpcsclite-dev \
	pcscd vsmartcard-vpcd pcsc-tools opensc softhsm2 libzbar0 fonts-noto-cjk \
	postgresql chromium

.PHONY: demo test bench deps clean

deps: $(STAMPS)/debian $(VENV)/.installed

$(STAMPS)/debian: Makefile scripts/ensure-debian-packages
	@mkdir -p $(STAMPS)
	@scripts/ensure-debian-packages $(DEBIAN_PACKAGES)
	@touch $@

$(VENV)/.installed: pyproject.toml $(STAMPS)/debian
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/python -m pip install -q --upgrade pip
	@$(VENV)/bin/python -m pip install -q -e '.[dev]'
	@touch $@

demo: deps
	@$(VENV)/bin/python scripts/demo.py

test: deps
	@$(VENV)/bin/python -m pytest -q

bench: deps
	@$(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) $(STAMPS) var build *.egg-info
