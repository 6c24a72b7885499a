# vecward: `make run` and `make test` are the two commands (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := all

CC      ?= cc
PKGS    := libcurl openssl yajl yaml-0.1 libevent libevent_openssl
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
OPT     ?= -O2 -g
CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) $(addprefix -I,$(INC_DIRS)) $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(CFLAGS)
LIBS    = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lyajl -lpthread
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)

CACHE   ?= $(HOME)/.cache/vecward
TOOLBIN := $(CACHE)/bin
WORK    := $(CURDIR)/.work
export PATH := $(TOOLBIN):$(PATH)

# ---- sources --------------------------------------------------------------
# Everything but the main()s goes into one static library per build
# variant; the linker takes from it only what each program uses.
OPERATOR_SRC := operator/main.c
CRYPT_SRC    := operator/crypt.c
WEBHOOK_SRC  := webhook/main.c
LIB_SRC      := $(wildcard common/*.c) \
                $(filter-out $(OPERATOR_SRC) $(CRYPT_SRC),$(wildcard operator/*.c operator/*/*.c)) \
                $(filter-out $(WEBHOOK_SRC),$(wildcard webhook/*.c))
INC_DIRS     := common $(sort $(dir $(wildcard operator/*/*.h))) webhook
UNIT_TESTS   := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
FUZZERS      := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
E2E_PROGS    := $(patsubst tests/e2e/%.c,%,$(wildcard tests/e2e/*.c))

# build/<variant>/... objects; variants: rel (default), san (ASan+UBSan), csan (the
# same with clang, for the programs the end-to-end suite runs), fuzz (libFuzzer)
obj = $(patsubst %.c,build/$(1)/%.o,$(2))

.PHONY: all deps tools run test unit unit-san valgrind fuzz-smoke e2e clean fmt lint version
all: deps bin/vecward-operator bin/vecward-webhook bin/vecward-crypt

# ---- dependencies ---------------------------------------------------------
DEB_PKGS := build-essential pkg-config libcurl4-openssl-dev libssl-dev libyajl-dev \
            libyaml-dev libcmocka-dev libevent-dev libcrypt-dev clang libclang-rt-14-dev \
            openssl curl ca-certificates iproute2 python3 python3-yaml wrk nginx \
            valgrind
deps: .work/deps.stamp
.work/deps.stamp: Makefile
	@mkdir -p .work
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@touch $@

tools: deps
	tools/build.sh

# ---- build rules ----------------------------------------------------------
# Objects that compile VECWARD_VERSION in are rebuilt when the version changes
# (a new commit, or a clean tree becoming dirty): build/version.stamp holds it.
VERSION_STAMP := build/version.stamp
$(shell mkdir -p build && { [ "$$(cat $(VERSION_STAMP) 2>/dev/null)" = "$(VERSION)" ] || echo "$(VERSION)" >$(VERSION_STAMP); })
VERSIONED_SRC := $(shell grep -l VECWARD_VERSION $(wildcard operator/*.c operator/*/*.c webhook/*.c) 2>/dev/null)
$(foreach b,rel san csan fuzz,$(call obj,$(b),$(VERSIONED_SRC))): $(VERSION_STAMP)

build/rel/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -DVECWARD_VERSION='"$(VERSION)"' -MMD -MP -c $< -o $@

SANFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
build/san/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(SANFLAGS) -DVECWARD_VERSION='"$(VERSION)"' -MMD -MP -c $< -o $@

# csan: SANFLAGS under clang, whose one runtime holds ASan and UBSan, so log_path in
# ASAN_OPTIONS/UBSAN_OPTIONS puts every report in a file (tests/e2e/run.sh looks for
# them). gcc links libasan and libubsan as two runtimes: its UBSan reports go to
# stderr whatever log_path says, and would be lost in a process's own log.
build/csan/%.o: %.c | deps
	@mkdir -p $(dir $@)
	clang $(CFLAGS_ALL) $(SANFLAGS) -DVECWARD_VERSION='"$(VERSION)"' -MMD -MP -c $< -o $@

FUZZFLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
build/fuzz/%.o: %.c | deps
	@mkdir -p $(dir $@)
	clang $(CFLAGS_ALL) $(FUZZFLAGS) -DVECWARD_VERSION='"$(VERSION)"' -DVECWARD_FUZZ -c $< -o $@

build/rel/libvecward.a: $(call obj,rel,$(LIB_SRC))
	@rm -f $@
	ar rcs $@ $^
build/san/libvecward.a: $(call obj,san,$(LIB_SRC))
	@rm -f $@
	ar rcs $@ $^
build/csan/libvecward.a: $(call obj,csan,$(LIB_SRC))
	@rm -f $@
	ar rcs $@ $^
build/fuzz/libvecward.a: $(call obj,fuzz,$(LIB_SRC))
	@rm -f $@
	ar rcs $@ $^

bin/vecward-operator: $(call obj,rel,$(OPERATOR_SRC)) build/rel/libvecward.a
	@mkdir -p bin
	$(CC) $(OPT) $^ -o $@ $(LIBS)

bin/vecward-webhook: $(call obj,rel,$(WEBHOOK_SRC)) build/rel/libvecward.a
	@mkdir -p bin
	$(CC) $(OPT) $^ -o $@ $(LIBS)

# encrypt/decrypt files under a Cluster's zone keys; -san: under ASan+UBSan
bin/vecward-crypt: $(call obj,rel,$(CRYPT_SRC)) build/rel/libvecward.a
	@mkdir -p bin
	$(CC) $(OPT) $^ -o $@ $(LIBS)

# -san: the programs under ASan+UBSan (csan); `make e2e` builds and runs these
bin/vecward-crypt-san: $(call obj,csan,$(CRYPT_SRC)) build/csan/libvecward.a
	@mkdir -p bin
	clang $(SANFLAGS) $^ -o $@ $(LIBS)

bin/vecward-operator-san: $(call obj,csan,$(OPERATOR_SRC)) build/csan/libvecward.a
	@mkdir -p bin
	clang $(SANFLAGS) $^ -o $@ $(LIBS)

bin/vecward-webhook-san: $(call obj,csan,$(WEBHOOK_SRC)) build/csan/libvecward.a
	@mkdir -p bin
	clang $(SANFLAGS) $^ -o $@ $(LIBS)

# ---- unit tests (cmocka), plain and under ASan+UBSan -------------------------
bin/unit/%: build/rel/tests/unit/%.o build/rel/libvecward.a
	@mkdir -p bin/unit
	$(CC) $(OPT) $^ -o $@ $(LIBS) -lcmocka

bin/unit-san/%: build/san/tests/unit/%.o build/san/libvecward.a
	@mkdir -p bin/unit-san
	$(CC) $(SANFLAGS) $^ -o $@ $(LIBS) -lcmocka

unit: $(addprefix bin/unit/,$(UNIT_TESTS))
	@tests/unit/run.sh bin/unit $(UNIT_TESTS)

unit-san: $(addprefix bin/unit-san/,$(UNIT_TESTS))
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		tests/unit/run.sh bin/unit-san $(UNIT_TESTS)

# the plain build (-O2 -g) under valgrind memcheck: any error or leak (definite,
# indirect or possible) fails its binary. tests/unit/valgrind.supp, when present,
# holds suppressions for third-party one-time allocations only.
VALGRIND_FLAGS := -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
	--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 --num-callers=40 \
	$(if $(wildcard tests/unit/valgrind.supp),--suppressions=tests/unit/valgrind.supp)
valgrind: deps $(addprefix bin/unit/,$(UNIT_TESTS))
	@RUNNER="valgrind $(VALGRIND_FLAGS)" tests/unit/run.sh bin/unit $(UNIT_TESTS)

# ---- fuzzing (libFuzzer); a short smoke run is part of make test ------------
bin/fuzz/%: build/fuzz/tests/fuzz/%.o build/fuzz/libvecward.a
	@mkdir -p bin/fuzz
	clang -fsanitize=fuzzer,address,undefined $^ -o $@ $(LIBS)

FUZZ_SECONDS ?= 20
fuzz-smoke: $(addprefix bin/fuzz/,$(FUZZERS))
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS)

# ---- end-to-end against the real local control plane ----------------------
bin/e2e/%: build/rel/tests/e2e/%.o build/rel/libvecward.a
	@mkdir -p bin/e2e
	$(CC) $(OPT) $^ -o $@ $(LIBS)

# the Milvus REST v2 test double (tests/milvusd/README.md); libcrypt for bcrypt
bin/milvusd: build/rel/tests/milvusd/milvusd.o build/rel/libvecward.a
	@mkdir -p bin
	$(CC) $(OPT) $^ -o $@ $(LIBS) -lcrypt

bin/milvusd-san: build/csan/tests/milvusd/milvusd.o build/csan/libvecward.a
	@mkdir -p bin
	clang $(SANFLAGS) $^ -o $@ $(LIBS) -lcrypt

# the suite runs the -san builds of the operator, webhook, vecward-crypt and milvusd
# (tests/e2e/run.sh; VW_E2E_SAN=0 for the release ones)
SAN_PROGS := bin/vecward-operator-san bin/vecward-webhook-san bin/vecward-crypt-san bin/milvusd-san
e2e: all tools bin/milvusd $(SAN_PROGS) $(addprefix bin/e2e/,$(E2E_PROGS))
	tests/e2e/run.sh

# ---- chaos: fault tests, long version -------------------------------------------
# test_chaos (the operator SIGKILLed during a churn, then the declared state exactly;
# see its header) with CHAOS_ROUNDS rounds and a CHAOS_RSS_SECONDS memory check under
# churn, then test_faults, on their own control plane in .work/e2e-chaos. make test runs
# both in their short versions. CHAOS_SEED=N replays a test_chaos run's choices.
.PHONY: chaos
CHAOS_ROUNDS      ?= 60
CHAOS_RSS_SECONDS ?= 600
chaos: all tools bin/milvusd $(SAN_PROGS) $(addprefix bin/e2e/,$(E2E_PROGS))
	VW_E2E_DIR=$(WORK)/e2e-chaos VW_E2E_TIMEOUT=3000 VW_CHAOS_ROUNDS=$(CHAOS_ROUNDS) \
		VW_CHAOS_RSS_SECONDS=$(CHAOS_RSS_SECONDS) $(if $(CHAOS_SEED),VW_CHAOS_SEED=$(CHAOS_SEED)) \
		tests/e2e/run.sh test_chaos test_faults
# ---- end of chaos ---------------------------------------------------------------

# ---- the two commands -------------------------------------------------------
test: all tools
	$(MAKE) check-manifests
	$(MAKE) check-docs
	$(MAKE) unit
	$(MAKE) unit-san
	$(MAKE) valgrind
	$(MAKE) fuzz-smoke
	$(MAKE) image-test
	$(MAKE) e2e

run: all tools
	tools/run.sh

# ---- delivery: the chart's CRDs and the plain manifests, generated from crds/ and
# charts/vecward (tools/manifests.sh); check-manifests fails while they are stale
.PHONY: chart-crds manifests check-manifests
chart-crds:
	tools/manifests.sh crds

manifests: tools
	tools/manifests.sh update

check-manifests: tools
	@tools/manifests.sh check

# ---- the container image, built without a container engine (docs/kind.md) ----
# IMAGE_DIR/vecward-oci.tar (OCI layout) and vecward-docker.tar (docker save
# format, for `kind load image-archive`): image $(IMAGE_NAME):$(VERSION)
.PHONY: image image-test
IMAGE_NAME ?= vecward/vecward
IMAGE_DIR  ?= build/image
image: all
	tools/image/build.sh $(IMAGE_DIR) $(IMAGE_NAME) $(VERSION) bin/vecward-operator bin/vecward-webhook bin/vecward-crypt

image-test: all
	@tests/image/test_image.sh

# ---- docs: docs/api.md is generated from crds/ (tools/gen-api-docs.py); check-docs
# fails while it is stale or docs/troubleshooting.md misses a condition reason
.PHONY: docs check-docs
docs: deps
	python3 tools/gen-api-docs.py >docs/api.md.tmp && mv docs/api.md.tmp docs/api.md

check-docs: deps
	@python3 tools/gen-api-docs.py --check
	@tools/check-reasons.sh

# ---- bench: webhook and certificates ------------------------------------------
# bench/README.md. Figures only (no assertions); fragments in bench/out/*.json.
#   bench-webhook  wrk against bin/vecward-webhook with nginx as the floor, and
#                  kubectl apply --dry-run=server without/with the webhook, on a local
#                  control plane in .work/bench/webhook (BENCH_SECONDS, BENCH_CONNS,
#                  BENCH_DRYRUN_M, BENCH_DRYRUN_ROUNDS)
#   bench-certs    a Cluster's CA + server certificate through operator/pki, per key
#                  algorithm (CERTBENCH_N issuances, at most CERTBENCH_SECONDS each)
.PHONY: bench-webhook bench-certs
CERTBENCH_N       ?= 20
CERTBENCH_SECONDS ?= 15

bin/bench/certbench: build/rel/bench/certbench.o build/rel/libvecward.a
	@mkdir -p bin/bench
	$(CC) $(OPT) $^ -o $@ $(LIBS)

bench-webhook: deps tools bin/vecward-webhook
	bench/webhook.sh

bench-certs: bin/bench/certbench
	@mkdir -p bench/out
	bin/bench/certbench -n $(CERTBENCH_N) -t $(CERTBENCH_SECONDS) -o bench/out/certificates.json
# ---- end of bench: webhook and certificates ----------------------------------

# ---- bench: operator, and make bench ----------------------------------------------
# bench-operator: convergence (1 Cluster + N Users, beside a plain-client floor), idle
#   cost and footprint of the operator on a fresh local control plane in
#   .work/bench-op (bench/operator.sh: BENCH_USERS, BENCH_WORKERS, BENCH_IDLE_SECONDS,
#   BENCH_RESYNC_PROBE, BENCH_FOOTPRINT_USERS, BENCH_PARTS); the reconcile counter
#   comes from the operator's "stats" log line (SIGUSR1)
# bench: every part, then one table (bench/report.py) and bench/out/results.json;
#   fails as soon as a part fails
.PHONY: bench bench-operator bench-report
bin/bench/floor: build/rel/bench/floor.o build/rel/libvecward.a
	@mkdir -p bin/bench
	$(CC) $(OPT) $^ -o $@ $(LIBS)

bench-operator: all tools bin/milvusd bin/bench/floor
	bench/operator.sh

bench-report:
	python3 bench/report.py

bench:
	rm -f bench/out/*.json
	$(MAKE) bench-operator
	$(MAKE) bench-webhook
	$(MAKE) bench-certs
	$(MAKE) bench-report

version:
	@echo $(VERSION)

fmt:
	clang-format -i $$(git ls-files '*.c' '*.h')

# varFuncNullUB: the json getters end their key lists with NULL, which glibc
# defines as ((void *)0): a pointer, as the sentinel attribute requires.
lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
		--suppress=missingIncludeSystem --suppress=varFuncNullUB $(addprefix -I,$(INC_DIRS)) common operator webhook

clean:
	rm -rf build bin

.SECONDARY:

-include $(shell find build -name '*.d' -type f 2>/dev/null)
