#!/bin/sh
# The seed's workload: append `date` to a file every second, COUNT times, then
# exit with EXIT_CODE. Settings come from the environment, as in a pod spec.
# Each line also goes to stdout, so what was written can be compared with
# what a log shipper shipped.
file=${DATA_FILE:-/data/t.txt}
count=${COUNT:-5}
code=${EXIT_CODE:-0}
mkdir -p "$(dirname "$file")"
i=0
while [ "$i" -lt "$count" ]; do
    line="$(date) #$((i + 1))"
    echo "$line" >> "$file"
    echo "$line"
    i=$((i + 1))
    [ "$i" -lt "$count" ] && sleep 1
done
exit "$code"
