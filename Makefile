# The two commands of README: `make demo` and `make test`. Both set up what is missing first
# (Debian packages and .venv, see scripts/setup.sh), then build Release into build/.
BUILD_DIR ?= build
TSAN_DIR ?= build-tsan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all setup build demo test test-cpp test-python test-tsan conformance clean format

all: build

setup:
	bash scripts/setup.sh

build: setup
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	bash scripts/demo.sh

test: build
	$(MAKE) --no-print-directory test-cpp test-python test-tsan

test-cpp:
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

test-python:
	.venv/bin/python -m pytest -q tests

# The scheduler tests under ThreadSanitizer (SPEC R7.1): only that small target is built.
test-tsan:
	cmake -S . -B $(TSAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUNIHAL_SANITIZE=thread $(CMAKE_FLAGS)
	cmake --build $(TSAN_DIR) -j $(JOBS) --target unihal_sched_tests
	TSAN_OPTIONS=halt_on_error=1 $(TSAN_DIR)/bin/unihal_sched_tests

# Runs the ONNX node suite on every device; rewrites docs/conformance.md and adds newly passing
# cases to tests/onnx_node/expected_pass.txt (the list CI guards).
conformance: build
	.venv/bin/python tests/onnx_node/conformance.py --markdown docs/conformance.md --update-expected

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')

clean:
	rm -rf $(BUILD_DIR) $(TSAN_DIR)
