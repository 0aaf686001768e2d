# fuzz.mk - the libFuzzer targets, read after the Makefile so that they are
# built with its flags and its pattern rule for objects:
#
#   make -f Makefile -f tests/fuzz/fuzz.mk BUILD=build/fuzz CC=clang SANITIZE=1 \
#        CFLAGS='-g -fsanitize=fuzzer-no-link' fuzz-build
#
# which is what tests/fuzz/build.sh runs.  Every object, the library's too,
# carries libFuzzer's coverage instrumentation (fuzzer-no-link); the link
# adds libFuzzer's main.

FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz-*.c)
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(BUILD)/%,$(FUZZ_SRCS))
FUZZ_COMMON  := $(BUILD)/tests/fuzz/fuzz.o
FUZZ_OBJS    := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/fuzz/%.o,$(FUZZ_SRCS)) $(FUZZ_COMMON)

.PHONY: fuzz-build
fuzz-build: $(FUZZ_TARGETS)

# Made by a chain of pattern rules, so make would delete them as
# intermediates and rebuild them every time.
.SECONDARY: $(FUZZ_OBJS)

$(BUILD)/fuzz-%: $(BUILD)/tests/fuzz/fuzz-%.o $(FUZZ_COMMON) $(BUILD)/libbootlace.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(BL_CFLAGS) $(LDFLAGS) $(BL_LDFLAGS) -fsanitize=fuzzer \
		-o $@ $^ $(PKG_LIBS)

-include $(FUZZ_OBJS:.o=.d)
