#!/bin/sh
# sgns-check.sh CLGRAD VEC: a fixed quality check of word vectors with clgrad's own tools: the rank
# of the answer in `analogy A B C` (-k 1000; >1000 if absent) for 10 analogies, and the 5 nearest
# words of king and red (tools/BENCHMARKS.md, "Across ranks": one process against N ranks).
C=$1; V=$2; out=""; t1=0; t10=0
for q in "man king woman queen" "boy girl man woman" "he his she her" "good better bad worse" \
         "big bigger small smaller" "france paris italy rome" "brother sister father mother" \
         "son daughter husband wife" "walk walked run ran" "king kings queen queens"; do
  # shellcheck disable=SC2086 # the four words of the analogy
  set -- $q
  r=$(POCL_MAX_PTHREAD_COUNT=2 "$C" analogy --vectors "$V" "$1" "$2" "$3" -k 1000 --device 0:0 2>/dev/null | awk -v w="$4" '$1==w {print NR; exit}')
  [ -n "$r" ] || r=">1000"
  [ "$r" = 1 ] && t1=$((t1+1)); case $r in [1-9]|10) t10=$((t10+1));; esac
  out="$out $4:$r"
done
k=$("$C" similar --vectors "$V" king -k 5 --device 0:0 2>/dev/null | awk '{printf "%s ", $1}')
r=$("$C" similar --vectors "$V" red -k 5 --device 0:0 2>/dev/null | awk '{printf "%s ", $1}')
echo "$V: top-1 $t1/10 top-10 $t10/10 ranks$out | king: $k| red: $r"
