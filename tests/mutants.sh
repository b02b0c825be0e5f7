#!/usr/bin/env bash
# Mutation testing: applies each mutant of tests/mutants.txt (a small deliberate bug) to a
# scratch copy of HEAD, one at a time, rebuilds incrementally, runs ctest, reverts, and prints
# which mutants the test suite caught. Not part of CI: every mutant is a rebuild.
#
# The user's working tree is never written: the scratch copy is a separate clone (default
# under $TMPDIR), brought to this repository's HEAD on each run, with one build directory
# that is reused (and ccache, when installed), so a mutant costs the files it touches.
set -uo pipefail

# The whole script is one function, read in full before it runs, so that editing this file (or
# checking out another commit) during a run cannot change the run.
main() {

usage() {
    cat <<'EOF'
usage: tests/mutants.sh [options] [ID ...]

Applies the mutants listed in tests/mutants.txt to a scratch copy of HEAD one at a time,
rebuilds (CPU-only), runs ctest, reverts, and prints a table of the results and the score.
With IDs, runs only those mutants (e.g. M08 M12).

options:
  --list          list the mutants (id, needs, file, what) and exit
  --check         only check that each mutant applies exactly once to HEAD (no build)
  --show          like --check, and print each mutant as a diff
  -j N            build and test jobs (default: the number of CPUs)
  --gpu           build with CUDA and also run the mutants that need a GPU (needs one)
  --work DIR      scratch directory for the copy and its build
                  (default: ${TMPDIR:-/tmp}/batchprop-mutants-<hash of this checkout>)
  --mutants FILE  the mutant list (default: tests/mutants.txt)
  --timeout S     time limit for one ctest run, in seconds (default: 900)
  -h, --help      this help

Results: caught (a test failed, crashed or timed out), survived (every test passed), stale
(the mutant's text no longer occurs exactly once: update tests/mutants.txt), broken (the
mutant does not compile: fix its edit), needs gpu (not run without --gpu). The exit status
is 0 when every mutant that ran was caught and none is stale or broken.
Only committed code is mutated: uncommitted changes are not part of HEAD.
EOF
}

die_usage() {
    echo "mutants.sh: $1 (see tests/mutants.sh --help)" >&2
    exit 2
}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(git -C "$script_dir" rev-parse --show-toplevel 2>/dev/null) || {
    echo "mutants.sh: $script_dir is not inside a git checkout" >&2
    exit 2
}

list_only=0 check_only=0 show=0 gpu=0 jobs=$(nproc 2>/dev/null || echo 2) timeout_s=900 work="" mutants_file="$repo/tests/mutants.txt"
wanted=()
while (($#)); do
    case $1 in
        --list) list_only=1 ;;
        --check) check_only=1 ;;
        --show) check_only=1 show=1 ;;
        --gpu) gpu=1 ;;
        -j)
            [[ ${2-} =~ ^[1-9][0-9]*$ ]] || die_usage "-j needs a positive number"
            jobs=$2
            shift
            ;;
        -j*)
            [[ ${1#-j} =~ ^[1-9][0-9]*$ ]] || die_usage "-j needs a positive number, not '${1#-j}'"
            jobs=${1#-j}
            ;;
        --work)
            [[ -n ${2-} ]] || die_usage "--work needs a directory"
            work=$2
            shift
            ;;
        --mutants)
            [[ -n ${2-} ]] || die_usage "--mutants needs a file"
            mutants_file=$2
            shift
            ;;
        --timeout)
            [[ ${2-} =~ ^[1-9][0-9]*$ ]] || die_usage "--timeout needs a number of seconds"
            timeout_s=$2
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        -*) die_usage "unknown option '$1'" ;;
        *) wanted+=("$1") ;;
    esac
    shift
done
[[ -r $mutants_file ]] || die_usage "cannot read the mutant list '$mutants_file'"

# ---- the mutant list ------------------------------------------------------------------------

ids=()                 # in file order
declare -gA m_file m_needs m_what m_npairs
declare -gA m_find m_repl  # key "ID:k", k = 0, 1, ... the k-th find/repl pair

parse_error() {
    echo "mutants.sh: $mutants_file:$1: $2" >&2
    exit 2
}

parse_mutants() {
    local line lineno=0 id="" key value last="" k=-1
    finish_block() {
        [[ -z $id ]] && return
        [[ -n ${m_file[$id]-} ]] || parse_error "$lineno" "mutant $id has no file:"
        [[ -n ${m_needs[$id]-} ]] || parse_error "$lineno" "mutant $id has no needs:"
        [[ -n ${m_what[$id]-} ]] || parse_error "$lineno" "mutant $id has no what:"
        ((k >= 0)) || parse_error "$lineno" "mutant $id has no find:"
        [[ -n ${m_repl[$id:$k]+x} ]] || parse_error "$lineno" "mutant $id: the last find: has no repl:"
        m_npairs[$id]=$((k + 1))
        id="" last="" k=-1
    }
    while IFS= read -r line || [[ -n $line ]]; do
        lineno=$((lineno + 1))
        [[ $line == \#* ]] && continue
        if [[ -z $line ]]; then
            finish_block
            continue
        fi
        [[ $line =~ ^([a-z]+):( (.*))?$ ]] || parse_error "$lineno" "expected 'key: value', got '$line'"
        key=${BASH_REMATCH[1]}
        value=${BASH_REMATCH[3]-}
        case $key in
            id)
                finish_block
                [[ $value =~ ^[A-Za-z0-9_.-]+$ ]] || parse_error "$lineno" "bad id '$value'"
                [[ -z ${m_needs[$value]-} && -z ${m_file[$value]-} ]] || parse_error "$lineno" "id $value is used twice"
                id=$value
                ids+=("$id")
                ;;
            file | needs | what)
                [[ -n $id ]] || parse_error "$lineno" "$key: before any id:"
                case $key in
                    file) m_file[$id]=$value ;;
                    needs)
                        [[ $value == cpu || $value == gpu ]] || parse_error "$lineno" "needs: is cpu or gpu, not '$value'"
                        m_needs[$id]=$value
                        ;;
                    what) m_what[$id]=$value ;;
                esac
                last=$key
                ;;
            find)
                [[ -n $id ]] || parse_error "$lineno" "find: before any id:"
                if [[ $last == find ]]; then
                    m_find[$id:$k]+=$'\n'$value
                else
                    [[ $k -lt 0 || -n ${m_repl[$id:$k]+x} ]] || parse_error "$lineno" "find: after a find: without its repl:"
                    k=$((k + 1))
                    m_find[$id:$k]=$value
                fi
                last=find
                ;;
            repl)
                [[ $last == find || $last == repl ]] || parse_error "$lineno" "repl: without a find: before it"
                if [[ $last == repl ]]; then
                    m_repl[$id:$k]+=$'\n'$value
                else
                    m_repl[$id:$k]=$value
                fi
                last=repl
                ;;
            *) parse_error "$lineno" "unknown key '$key'" ;;
        esac
    done <"$mutants_file"
    finish_block
}
parse_mutants

for w in "${wanted[@]}"; do
    [[ -n ${m_file[$w]-} ]] || die_usage "no mutant '$w' in $mutants_file"
done

if ((list_only)); then
    printf '%-4s  %-5s  %-28s  %s\n' id needs file what
    for id in "${ids[@]}"; do
        printf '%-4s  %-5s  %-28s  %s\n' "$id" "${m_needs[$id]}" "${m_file[$id]}" "${m_what[$id]}"
    done
    exit 0
fi

selected=()
if ((${#wanted[@]})); then selected=("${wanted[@]}"); else selected=("${ids[@]}"); fi

# ---- literal, exactly-once text replacement ----------------------------------------------------

count_occurrences() {  # count_occurrences HAYSTACK NEEDLE -> prints the count
    local hay=$1 needle=$2 n=0
    while [[ $hay == *"$needle"* ]]; do
        hay=${hay#*"$needle"}
        n=$((n + 1))
    done
    echo "$n"
}

read_file() {  # read_file PATH -> the exact contents in $REPLY (trailing newlines kept)
    REPLY=$(
        cat -- "$1"
        printf x
    ) || return 1
    REPLY=${REPLY%x}
}

# mutate ID PATH: applies the mutant's pairs to PATH's text. On success the new text is in
# $MUTATED; otherwise $WHY says which text matched how often.
mutate() {
    local id=$1 text k find repl n
    read_file "$2" || {
        WHY="cannot read ${m_file[$id]}"
        return 1
    }
    text=$REPLY
    for ((k = 0; k < ${m_npairs[$id]}; k++)); do
        find=${m_find[$id:$k]}
        repl=${m_repl[$id:$k]}
        n=$(count_occurrences "$text" "$find")
        if [[ $n != 1 ]]; then
            WHY="find #$((k + 1)) matches $n times in ${m_file[$id]}"
            return 1
        fi
        text=${text%%"$find"*}$repl${text#*"$find"}
    done
    MUTATED=$text
}

# ---- the scratch copy of HEAD ------------------------------------------------------------------

head=$(git -C "$repo" rev-parse HEAD) || exit 2

if ((check_only)); then
    tmp=$(mktemp) || exit 2
    n_stale=0
    for id in "${selected[@]}"; do
        if git -C "$repo" show "$head:${m_file[$id]}" >"$tmp" 2>/dev/null && mutate "$id" "$tmp"; then
            printf '%-4s  applies\n' "$id"
            if ((show)); then
                printf %s "$MUTATED" | diff -u --label "a/${m_file[$id]}" --label "b/${m_file[$id]}" "$tmp" -
            fi
        else
            [[ -s $tmp ]] || WHY="${m_file[$id]} is not in HEAD"
            printf '%-4s  stale: %s\n' "$id" "$WHY"
            n_stale=$((n_stale + 1))
        fi
    done
    rm -f "$tmp"
    echo "${#selected[@]} mutants, $n_stale stale"
    ((n_stale == 0))
    exit
fi
if [[ -z $work ]]; then
    work=${TMPDIR:-/tmp}/batchprop-mutants-$(printf %s "$repo" | cksum | cut -d' ' -f1)
fi
case $(cd "$(dirname "$work")" 2>/dev/null && pwd)/$(basename "$work")/ in
    "$repo"/*) die_usage "--work must be outside the checkout ($repo)" ;;
esac
tree=$work/tree
build=$work/build
((gpu)) && build=$work/build-gpu
logs=$work/logs
mkdir -p "$work" "$logs" || exit 2
if command -v flock >/dev/null; then
    exec 9>"$work/lock"
    flock -n 9 || {
        echo "mutants.sh: another run is using $work (--work DIR for a separate one)" >&2
        exit 2
    }
fi

if ! git -C "$repo" diff --quiet HEAD -- 2>/dev/null; then
    echo "note: $repo has uncommitted changes; they are not tested (mutating HEAD ${head:0:12})" >&2
fi

if [[ ! -d $tree/.git ]]; then
    rm -rf "$tree"
    git clone --quiet --no-checkout "$repo" "$tree" || exit 2
fi
# Fetch HEAD into the copy and check it out: only files that differ are rewritten, so the
# build directory stays incremental between runs.
git -C "$tree" fetch --quiet "$repo" HEAD || exit 2
[[ $(git -C "$tree" rev-parse FETCH_HEAD) == "$head" ]] || {
    echo "mutants.sh: HEAD moved while fetching; run again" >&2
    exit 2
}
git -C "$tree" checkout --quiet --force --detach "$head" || exit 2
git -C "$tree" clean --quiet -fdx || exit 2

current_file=""  # the file a mutant is applied to, restored on exit or interrupt
restore() {
    [[ -n $current_file ]] && git -C "$tree" checkout --quiet -- "$current_file"
    current_file=""
}
trap 'restore; exit 130' INT TERM
trap restore EXIT

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
generator=()
[[ -f $build/CMakeCache.txt ]] || { command -v ninja >/dev/null && generator=(-G Ninja); }
cuda=OFF
((gpu)) && cuda=ON

build_tree() {  # build_tree LOG
    cmake -S "$tree" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DBATCHPROP_CUDA=$cuda \
        -DBATCHPROP_BENCH=OFF "${launcher[@]}" >"$1" 2>&1 &&
        cmake --build "$build" -j "$jobs" >>"$1" 2>&1
}

# run_tests LOG: ctest, stopping at the first failure. Sets FIRST_FAILED (empty if all passed).
run_tests() {
    local rc
    timeout "$timeout_s" ctest --test-dir "$build" -j "$jobs" --stop-on-failure --output-on-failure >"$1" 2>&1
    rc=$?
    # ctest marks failures with "***Failed", "***Timeout" or "***Exception"; "***Skipped" (a GPU
    # test without a GPU) is not one.
    FIRST_FAILED=$(sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) \.*\*{3}(Failed|Timeout|Exception).*/\1/p' "$1" | head -n 1)
    if ((rc == 124)); then
        FIRST_FAILED="(ctest timed out after ${timeout_s}s)${FIRST_FAILED:+ $FIRST_FAILED}"
    elif ((rc != 0)) && [[ -z $FIRST_FAILED ]]; then
        FIRST_FAILED="(ctest exit $rc)"
    fi
    return $rc
}

echo "mutating HEAD ${head:0:12} in $tree (build: $build, -j $jobs)"
echo "baseline: building and testing the unmutated code ..."
if ! build_tree "$logs/baseline.build.log"; then
    echo "mutants.sh: the unmutated code does not build; see $logs/baseline.build.log" >&2
    exit 1
fi
if ! run_tests "$logs/baseline.test.log"; then
    echo "mutants.sh: the unmutated code fails its tests (first: $FIRST_FAILED); see $logs/baseline.test.log" >&2
    exit 1
fi
if ((gpu)) && grep -qE 'Test +#[0-9]+: (GpuVsCpu|CudaBackend)[^ ]* .*Skipped' "$logs/baseline.test.log"; then
    echo "mutants.sh: --gpu, but the GPU tests skip here (no usable GPU): GPU mutants would survive" >&2
    exit 1
fi
echo "baseline: $(grep -Eo '[0-9]+% tests passed.*' "$logs/baseline.test.log")"

# ---- the mutants ---------------------------------------------------------------------------

declare -gA result first_failed
caught=0 survived=0 stale=0 broken=0 not_run=0
for id in "${selected[@]}"; do
    file=${m_file[$id]}
    first_failed[$id]=""
    if ! mutate "$id" "$tree/$file"; then
        result[$id]=stale
        first_failed[$id]=$WHY
        stale=$((stale + 1))
    elif [[ ${m_needs[$id]} == gpu ]] && ((!gpu)); then
        result[$id]="needs gpu"
        not_run=$((not_run + 1))
    else
        current_file=$file
        printf %s "$MUTATED" >"$tree/$file"
        if ! build_tree "$logs/$id.build.log"; then
            result[$id]=broken
            first_failed[$id]="does not compile: $logs/$id.build.log"
            broken=$((broken + 1))
        elif run_tests "$logs/$id.test.log"; then
            result[$id]=survived
            survived=$((survived + 1))
        else
            result[$id]=caught
            first_failed[$id]=$FIRST_FAILED
            caught=$((caught + 1))
        fi
        restore
        git -C "$tree" diff --quiet || {
            echo "mutants.sh: could not revert $file in $tree" >&2
            exit 1
        }
    fi
    printf '%-4s  %-9s  %s\n' "$id" "${result[$id]}" "${first_failed[$id]:-}"
done

# ---- the table -----------------------------------------------------------------------------

echo
echo "| id | file | mutant | result | first failing test |"
echo "|---|---|---|---|---|"
for id in "${selected[@]}"; do
    echo "| $id | ${m_file[$id]} | ${m_what[$id]} | ${result[$id]} | ${first_failed[$id]:-} |"
done
echo
run=$((caught + survived))
if ((run)); then
    echo "score: $caught of $run caught ($((100 * caught / run))%); stale $stale, broken $broken, not run (needs gpu) $not_run"
else
    echo "score: no mutant ran; stale $stale, broken $broken, not run (needs gpu) $not_run"
fi
echo "logs: $logs"
((survived == 0 && stale == 0 && broken == 0))
}

main "$@"
exit
