#!/bin/sh
# The seed's log-shipper sidecar: print the workload's file as it grows, once
# a second. On SIGTERM it ships what is left before it exits, so no line the
# workload wrote is lost at shutdown (the reason a sidecar needs a graceful
# stop, not a SIGKILL).
file=${DATA_FILE:-/data/t.txt}
shipped=0

ship() {  # print the complete lines after those already shipped
    [ -f "$file" ] || return 0
    total=$(wc -l < "$file")
    if [ "$total" -gt "$shipped" ]; then
        tail -n +"$((shipped + 1))" "$file" | head -n "$((total - shipped))"
        shipped=$total
    fi
}

trap 'kill "$sleeper" 2>/dev/null; ship; exit 0' TERM
while :; do
    ship
    sleep 1 &
    sleeper=$!
    wait "$sleeper"
done
