# The two commands in the README: `make demo` (the main job) and `make test`.
.PHONY: setup build demo test bench clean

setup:
	@bash scripts/setup.sh

build: setup

demo: setup
	@bash scripts/demo.sh

test:
	@bash scripts/test.sh

bench: setup
	@bash scripts/bench.sh

clean:
	rm -rf dist .tmp
