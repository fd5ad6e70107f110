# The two commands a newcomer needs: `make run` (chat with the assistant) and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
export RASA_TELEMETRY_ENABLED := false
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test setup serve web train seed accounts token bench bench-ocpi clean

setup:
	@scripts/bootstrap.sh
	@web/build.sh

## make run [AS=demo-wait]: set up, seed the demo data, train if needed, start both servers, chat in the terminal
run: setup
	@$(PY) -m bot.cli run $(if $(AS),--as $(AS),)

## make serve: the same, without the terminal chat (for the website widget or your own client)
serve: setup
	@$(PY) -m bot.cli run --no-chat

## make web [DEMO=1]: only the widget page, for a Rasa server already running on :5005
web: setup
	@$(PY) -m bot.cli web $(if $(DEMO),--demo-logins,)

## make test: the whole suite (trains the model once if needed, starts its own servers)
test: setup
	@$(PY) -m pytest $(PYTEST_ARGS)

## make bench [BENCH_ARGS=...]: this assistant against Rasa's default config, same data, same run (~45 min)
bench: setup
	@$(PY) -m bench $(BENCH_ARGS)

## make bench-ocpi [BENCH_ARGS=...]: the OCPI receiver's PATCH rate, latency, memory and growth (PostgreSQL and SQLite)
bench-ocpi: setup
	@$(PY) -m bench.ocpi $(BENCH_ARGS)

train: setup
	@$(PY) -m bot.cli train

seed: setup
	@$(PY) -m bot.cli seed

accounts: setup
	@$(PY) -m bot.cli accounts

token: setup
	@$(PY) -m bot.cli token $(AS)

clean:
	rm -rf models/*.tar.gz var results
