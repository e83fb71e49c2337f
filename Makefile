# `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test bench lint tree clean deps

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# yanglint (libyang) is a test oracle; install it when we can (root on Debian).
deps:
	@command -v yanglint >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libyang2-tools >/dev/null; \
	  else echo "note: yanglint not found; install libyang2-tools for the YANG oracle tests"; fi; }

# the main job: the section 2 network, one agent per device (vsi-agent serve runs one agent)
run: $(BIN)/.installed
	$(BIN)/vsi-agent lab

test: $(BIN)/.installed deps
	$(BIN)/python -m pytest -q

bench: $(BIN)/.installed
	$(BIN)/python -m bench

tree: $(BIN)/.installed
	$(BIN)/pyang -f tree -p yang yang/vsi-l2-multicast.yang -o docs/vsi-l2-multicast.tree

lint: $(BIN)/.installed
	$(BIN)/pyang --lint -p yang yang/vsi-l2-multicast.yang

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
