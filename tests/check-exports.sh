#!/bin/sh
# check-exports.sh LIB — fail if the shared library LIB exports a symbol outside the public API
# (clg_ followed by a lowercase letter: clg__* are internal), or exports no clg_ symbol at all.
set -eu
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }')
bad=$(printf '%s\n' "$syms" | grep -v '^clg_[a-z]' | grep -v '^_init$\|^_fini$\|^_edata$\|^_end$\|^__bss_start$' || true)
n=$(printf '%s\n' "$syms" | grep -c '^clg_[a-z]' || true)
if [ -n "$bad" ]; then
    echo "$lib exports symbols outside the public API:"
    printf '%s\n' "$bad"
    exit 1
fi
if [ "$n" -lt 100 ]; then
    echo "$lib exports only $n clg_ symbols"
    exit 1
fi
echo "$lib exports $n public symbols and nothing else"
