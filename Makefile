# Two entry points: `make run` starts the bot, `make test` runs the tests.
# Each creates the virtual environment in .venv and installs the project first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test demo install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

handoff.yml:
	cp examples/handoff.example.yml handoff.yml
	@echo "created handoff.yml from examples/handoff.example.yml: put your teams, reps and Slack ids in it"

run: $(STAMP) handoff.yml
	$(BIN)/handoff run

demo: $(STAMP)
	$(BIN)/handoff demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
