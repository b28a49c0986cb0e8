# mailport - plain Makefile with pkg-config.
#   make            build build/mailport
#   make run        install what is missing, build, run on the embedded default config
#   make test       install test dependencies, build with ASan+UBSan, run every test
#   make unit       only the cmocka unit tests (sanitizer build)
#   make install    PREFIX=/usr/local DESTDIR=

CC      ?= gcc
PKGS    := libevent libevent_openssl libevent_pthreads libcares inih openssl libcrypt libedit libseccomp
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wformat=2 -Werror
CFLAGS  ?= -O2 -g
BUILD   ?= build
PREFIX  ?= /usr/local

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -Isrc $(PKG_CFLAGS) $(CFLAGS)
ALL_LIBS   := $(PKG_LIBS) -lpthread

SRCS      := $(sort $(shell find src -name '*.c' ! -name main.c))
OBJS      := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_UTIL := tests/unit/testutil.c

SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

.PHONY: all run test unit unit-bins deps deps-test san bench clean install
all: $(BUILD)/mailport

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/mailport: $(OBJS) $(BUILD)/obj/main.o
	@echo "  LINK    $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ALL_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(UNIT_UTIL) $(UNIT_UTIL:.c=.h) $(OBJS)
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	@$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(UNIT_UTIL) $(OBJS) $(ALL_LIBS) -lcmocka

unit-bins: $(UNIT_BINS)

deps:
	@scripts/deps.sh run

deps-test:
	@scripts/deps.sh test

run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p var
	./$(BUILD)/mailport serve --defaults

san:
	@$(MAKE) --no-print-directory BUILD=build-san CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" build-san/mailport unit-bins

unit: san
	@tests/run_unit.sh build-san

test: deps-test
	@$(MAKE) --no-print-directory san
	@tests/run_all.sh build-san

bench: all
	@bench/run.sh

install: all
	@BUILD='$(BUILD)' PREFIX='$(PREFIX)' DESTDIR='$(DESTDIR)' \
	SYSCONFDIR='$(or $(SYSCONFDIR),$(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc))' \
	SYSTEMDDIR='$(or $(SYSTEMDDIR),$(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system))' \
	GZIP_MAN='$(GZIP_MAN)' SENDMAIL_LINK='$(SENDMAIL_LINK)' scripts/install.sh

clean:
	rm -rf build build-san

-include $(OBJS:.o=.d) $(BUILD)/obj/main.d
