#!/usr/bin/env bash
# Runs `gangsched simulate --policy gangsched` with two binaries over a matrix of traces, shapes,
# seeds and engine configs, and checks that their reports are identical apart from the wall-time
# columns (CSV `decisions_per_second`, JSON `speed`). Prints each run's wall time for both, so a
# speed change is measured on the same runs that prove it changed no result.
#
#   benchmarks/simulate_identity.sh BEFORE_BINARY AFTER_BINARY [OUT_DIR]
#
# Environment (defaults in brackets):
#   TRACES    trace files  [../shared/data/gavel/msr_seed0/{7f04ca,11cb48,6c71a0}.trace]
#   DURATIONS [../shared/data/gavel/philly_job_distribution.csv]
#   CLUSTER   [gen:2x2x4x8]     SHAPES [packed ps-workers]     SEEDS [1 2]
#   MAX_JOBS  jobs per trace [300] (0: the whole trace)
#   CONFIGS   engine configs: default, drain0 (planner: {drain_after: 0s}),
#             spanwait (planner: {span_wait: 30m})  [default drain0 spanwait]
# Exit status 1 when any pair of reports differs.
set -euo pipefail

before=${1:?before binary}
after=${2:?after binary}
out=${3:-$(mktemp -d /tmp/simulate-identity.XXXXXX)}
shared=${SHARED:-../shared}
traces=${TRACES:-"$shared/data/gavel/msr_seed0/7f04ca.trace $shared/data/gavel/msr_seed0/11cb48.trace $shared/data/gavel/msr_seed0/6c71a0.trace"}
durations=${DURATIONS:-$shared/data/gavel/philly_job_distribution.csv}
cluster=${CLUSTER:-gen:2x2x4x8}
shapes=${SHAPES:-"packed ps-workers"}
seeds=${SEEDS:-"1 2"}
max_jobs=${MAX_JOBS:-300}
configs=${CONFIGS:-"default drain0 spanwait"}

mkdir -p "$out"
printf 'planner:\n  drain_after: 0s\n' >"$out/drain0.yaml"
printf 'planner:\n  span_wait: 30m\n' >"$out/spanwait.yaml"

# The report without its wall-time fields.
normalize() {
  python3 - "$1" <<'EOF'
import json, sys
text = open(sys.argv[1]).read()
if text.lstrip().startswith('{'):
    doc = json.loads(text)
    for run in doc.get('runs', []) if isinstance(doc.get('runs'), list) else []:
        run.pop('speed', None)
    doc.pop('speed', None)
    print(json.dumps(doc, sort_keys=True, indent=1))
else:
    for line in text.splitlines():
        print(line.rsplit(',', 1)[0])
EOF
}

failed=0
printf '%-12s %-10s %-4s %-9s %-4s %9s %9s  %s\n' trace shape seed config out before_s after_s result
for trace in $traces; do
  for shape in $shapes; do
    for seed in $seeds; do
      for config in $configs; do
        for output in csv json; do
          # JSON only on the first seed and config: it holds every job, so it is the stricter check.
          if [[ $output == json && ($seed != "${seeds%% *}" || $config != "${configs%% *}") ]]; then
            continue
          fi
          args=(simulate --cluster "$cluster" --trace "$trace" --durations "$durations"
            --shape "$shape" --policy gangsched --seed "$seed" -o "$output")
          [[ $max_jobs != 0 ]] && args+=(--max-jobs "$max_jobs")
          [[ $config != default ]] && args+=(--config "$out/$config.yaml")
          name="$(basename "$trace" .trace)-$shape-s$seed-$config.$output"
          declare -A secs=()
          for side in before after; do
            bin=$before
            [[ $side == after ]] && bin=$after
            start=$(date +%s.%N)
            "$bin" "${args[@]}" >"$out/$side-$name"
            secs[$side]=$(echo "$(date +%s.%N) - $start" | bc)
            normalize "$out/$side-$name" >"$out/$side-$name.norm"
          done
          result=same
          if ! cmp -s "$out/before-$name.norm" "$out/after-$name.norm"; then
            result=DIFFERENT
            failed=1
          fi
          printf '%-12s %-10s %-4s %-9s %-4s %9.2f %9.2f  %s\n' "$(basename "$trace" .trace)" \
            "$shape" "$seed" "$config" "$output" "${secs[before]}" "${secs[after]}" "$result"
          unset secs
        done
      done
    done
  done
done
echo "reports in $out"
exit $failed
