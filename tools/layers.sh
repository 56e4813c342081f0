#!/bin/sh
# tools/layers.sh: the dependency graph between the directories of src/, read
# from the #include "dir/file.h" lines, and the layer rules it must keep
# (docs/STYLE.md, "Layers"). Each layer uses only the layers below it:
#
#   core(0) -> num(1), nn(1) -> model(2) -> codec(3), store(3) -> jobs(4)
#           -> http(5) -> daemon(6) -> src/main.c (top)
#
# Prints every edge "from -> to  count", then fails (exit 1), naming the
# offending file:line, on
#   (a) a cycle between directories;
#   (b) an include that runs back up the order, or between siblings on one
#       level (num/nn, codec/store), or from or into a directory that is not
#       in the order (a new directory is added to LAYERS below and to
#       docs/STYLE.md in the same commit);
#   (c) an include cycle between the headers of one directory (a.h includes
#       b.h includes a.h).
# It also notes, without failing, cycles between the modules of one
# directory: a module is a .c file with its headers (foo.c, foo.h,
# foo_internal.h, foo_impl.h), so a.c including b.h while b.c includes
# a_internal.h is a cycle although no header includes another. A header that
# only lends a type (step.h including dense.h for the dense-output struct)
# makes such cycles too, hence a note. Cycles through a header that declares
# what another file defines (grad_solve_impl.h for grad_adjoint.c) need the
# symbols, not the #include lines, and are not seen.
# Includes without a directory ("build_config.h", autoconf's) count only when the
# file is in the including file's own directory, as the compiler finds it.
#
# Usage: tools/layers.sh [SRCDIR]   (default: $top_srcdir/src, else ./src)
# Plain POSIX sh and awk; run by `make check` (tests/test_layers.sh).
set -eu

LAYERS="core:0 num:1 nn:1 model:2 codec:3 store:3 jobs:4 http:5 daemon:6 main:7"

src=${1:-${top_srcdir:-.}/src}
[ -d "$src" ] || { echo "layers: no directory $src" >&2; exit 2; }
src=${src%/}

# src/*.c and src/*.h are the top ("main"); src/DIR/*.[ch] belong to DIR.
files=$(find "$src" -mindepth 1 -maxdepth 2 -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)
[ -n "$files" ] || { echo "layers: no sources under $src" >&2; exit 2; }

# shellcheck disable=SC2086 # file names under src/ have no blanks
LC_ALL=C awk -v root="$src" -v label="src" -v layers="$LAYERS" '
# Problems are printed after the graph, in the order found.
function fail(msg) { problem[++problems] = "layers: " msg }

# The module of a file: its name without the extension and without an
# _internal / _impl suffix, so foo.c, foo.h and foo_internal.h are one.
function module_of(path,   m) {
    m = path
    sub(/\.[ch]$/, "", m)
    sub(/_(internal|impl)$/, "", m)
    return m
}

function add_node(g, u) {
    if ((g, u) in is_node) return
    is_node[g, u] = 1
    nodes[g, ++n_nodes[g]] = u
}

# An edge u -> v of graph g, remembered with the first file:line making it.
function add_edge(g, u, v, where) {
    add_node(g, u)
    add_node(g, v)
    if ((g, u, v) in edge_where) return
    edge_where[g, u, v] = where
    adj[g, u, ++deg[g, u]] = v
}

# Depth-first search; a back edge closes a cycle, reported once per set of
# members with the file:line of each of its edges.
function dfs(g, u,   i, v) {
    color[g, u] = 1
    stack[++sp] = u
    for (i = 1; i <= deg[g, u]; i++) {
        v = adj[g, u, i]
        if (color[g, v] == 1) cycle(g, v)
        else if (color[g, v] == 0) dfs(g, v)
    }
    sp--
    color[g, u] = 2
}

function cycle(g, v,   j, k, path, where, key, members, n, tmp, a, b) {
    for (j = sp; j > 0 && stack[j] != v; j--) {}
    n = 0
    for (k = j; k <= sp; k++) members[++n] = stack[k]
    # the same cycle found from another start is one report
    for (a = 1; a <= n; a++)
        for (b = a + 1; b <= n; b++)
            if (members[b] < members[a]) { tmp = members[a]; members[a] = members[b]; members[b] = tmp }
    key = g
    for (a = 1; a <= n; a++) key = key " " members[a]
    if (key in cycles_seen) return
    cycles_seen[key] = 1
    if (g == "hdr") {
        # the module cycle these headers make is this one: not noted again
        key = "mod"
        for (a = 1; a <= n; a++) key = key " " module_of(members[a])
        cycles_seen[key] = 1
    }
    path = stack[j]
    where = ""
    for (k = j; k <= sp; k++) {
        a = stack[k]
        b = (k < sp) ? stack[k + 1] : v
        path = path " -> " b
        where = where "\n    " edge_where[g, a, b] " (" a " -> " b ")"
    }
    if (g == "mod") notes[++n_notes] = "layers: note (not a failure): " cycle_what[g] " cycle: " path ":" where
    else fail(cycle_what[g] " cycle: " path ":" where)
}

function find_cycles(g,   i, u) {
    for (i = 1; i <= n_nodes[g]; i++) {
        u = nodes[g, i]
        if (color[g, u] == 0) dfs(g, u)
    }
}

BEGIN {
    n = split(layers, pairs, " ")
    for (i = 1; i <= n; i++) {
        split(pairs[i], kv, ":")
        level[kv[1]] = kv[2] + 0
    }
    cycle_what["dir"] = "directory"
    cycle_what["hdr"] = "header"
    cycle_what["mod"] = "module"
}

FNR == 1 {
    rel = substr(FILENAME, length(root) + 2) # "http/api.c", or "main.c" at the top
    slash = index(rel, "/")
    dir = slash ? substr(rel, 1, slash - 1) : "main"
    exists[rel] = 1
    n_files++
    if (!(dir in level) && !(dir in unknown_seen)) {
        unknown_seen[dir] = 1
        fail(label "/" dir "/: not in the layer order (tools/layers.sh LAYERS, docs/STYLE.md)")
    }
    seen_dir[dir] = 1
}

/^[ \t]*#[ \t]*include[ \t]*"/ {
    t = $0
    sub(/^[^"]*"/, "", t)
    sub(/".*/, "", t)
    n_inc++
    inc_file[n_inc] = rel
    inc_dir[n_inc] = dir
    inc_target[n_inc] = t
    inc_where[n_inc] = label "/" rel ":" FNR
}

END {
    if (n_files == 0) exit 2
    # directories: the known layers and whatever exists under the root
    for (d in level) known_dir[d] = 1
    for (d in seen_dir) known_dir[d] = 1

    for (i = 1; i <= n_inc; i++) {
        t = inc_target[i]
        from = inc_dir[i]
        where = inc_where[i]
        slash = index(t, "/")
        if (slash) {
            to = substr(t, 1, slash - 1)
            if (!(to in known_dir)) continue # a system or generated header
            path = t
        } else {
            # "x.h": the including file'"'"'s own directory first, as the compiler does
            path = (from == "main") ? t : from "/" t
            if (!(path in exists)) continue # autoconf'"'"'s build_config.h and the like
            to = from
        }
        if (to == "main") path = t

        if (from != to) {
            count[from, to]++
            if (!((from, to) in first)) { first[from, to] = where; pairs_list[++n_pairs] = from SUBSEP to }
            add_edge("dir", from, to, where)
            if ((from in level) && (to in level)) {
                if (level[to] > level[from])
                    fail(where ": " from " (" level[from] ") includes " t ": " to " (" level[to] ") is above it")
                else if (level[to] == level[from])
                    fail(where ": " from " and " to " are siblings on level " level[from] " and must not include each other (" t ")")
            } else if (!(to in level)) {
                fail(where ": includes " t " from " to "/, which is not in the layer order")
            }
        } else {
            # inside one directory: headers and modules
            if (inc_file[i] ~ /\.h$/ && path ~ /\.h$/ && (path in exists))
                add_edge("hdr", inc_file[i], path, where)
            mu = module_of(inc_file[i])
            mv = module_of(path)
            if (mu != mv && (path in exists)) add_edge("mod", mu, mv, where)
        }
    }

    print "layers: directory dependencies under " label "/ (from -> to, #include lines):"
    cmd = "LC_ALL=C sort"
    for (i = 1; i <= n_pairs; i++) {
        split(pairs_list[i], p, SUBSEP)
        lf = (p[1] in level) ? "(" level[p[1]] ")" : "(?)"
        lt = (p[2] in level) ? "(" level[p[2]] ")" : "(?)"
        printf "  %-12s -> %-12s %4d\n", p[1] lf, p[2] lt, count[p[1], p[2]] | cmd
    }
    close(cmd)

    find_cycles("dir")
    find_cycles("hdr")
    find_cycles("mod")

    for (i = 1; i <= n_notes; i++) print notes[i]
    for (i = 1; i <= problems; i++) print problem[i]
    if (problems) {
        print "layers: FAIL, " problems " problem(s); the order is in docs/STYLE.md"
        exit 1
    }
    print "layers: ok (" n_files " files, " n_inc " #include lines)"
}
' $files
