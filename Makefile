.PHONY: bench bench-quick test

PYTHON ?= .venv/bin/python

# every benchmark in bench/, one table of figures, peers, ratios and bars
bench:
	$(PYTHON) -m bench

bench-quick:
	$(PYTHON) -m bench --quick

test:
	$(PYTHON) -m pytest -q
