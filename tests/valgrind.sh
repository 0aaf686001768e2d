#!/bin/sh
# valgrind.sh - runs $BOOTLACE_REAL under valgrind, for make check-valgrind:
# the integration tests take this script as their $BOOTLACE.  Any memory
# error or definite/indirect leak makes bootlace exit 99, which the test
# reports as a wrong exit status.  Children (layer scripts) are not traced.
exec valgrind --quiet --error-exitcode=99 --leak-check=full \
	--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
	"${BOOTLACE_REAL:?set BOOTLACE_REAL to the bootlace binary}" "$@"
