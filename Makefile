# The two set-up commands: `make demo` and `make test`. Each creates .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/nahtlos plan deployments/buergerservice.yaml --to gateway=2.0.0 --to forms=2.0.0 --to registry=2.1.0

test: $(STAMP)
	scripts/test.sh

clean:
	rm -rf $(VENV)
