# SPDX-License-Identifier: MPL-2.0
# Prints an APT source file with the components in `want` (space separated) added to every entry
# of Debian's own archive (URI path /debian or /debian-security) for suite `codename` and its
# -updates/-security suites. Handles one-line ("deb URI SUITE COMP...") and deb822 (.sources)
# files; everything else is printed unchanged, so an unchanged output means nothing is missing.
# Usage: awk -v codename=bookworm -v want="contrib non-free non-free-firmware" -f THIS FILE

function debian_uri(uri) { return uri ~ /\/debian(-security)?\/?$/ }
function our_suite(suite) { return suite ~ ("^" codename "(-updates|-security|/updates)?$") }

# Appends to `line` (whose components are the words from index `first`) each wanted one it lacks.
function add_missing(line, first,    words, n, i, k, have, wanted) {
    n = split(line, words, /[[:space:]]+/)
    for (i = first; i <= n; i++) have[words[i]] = 1
    split(want, wanted, " ")
    for (k = 1; k in wanted; k++)
        if (!(wanted[k] in have)) line = line " " wanted[k]
    return line
}

function flush_stanza(    i, relevant, n, suites, s, uris, u) {
    relevant = 0
    if (stanza_types ~ /(^|[[:space:]])deb([[:space:]]|$)/) {
        split(stanza_uris, uris, /[[:space:]]+/)
        split(stanza_suites, suites, /[[:space:]]+/)
        for (u in uris) if (debian_uri(uris[u]))
            for (s in suites) if (our_suite(suites[s])) relevant = 1
    }
    for (i = 1; i <= nlines; i++) {
        if (relevant && i == components_at) print add_missing(lines[i], 2)
        else print lines[i]
    }
    nlines = 0; components_at = 0; stanza_types = stanza_uris = stanza_suites = ""
}

FILENAME ~ /\.sources$/ {
    if ($0 ~ /^[[:space:]]*$/) { flush_stanza(); print; next }
    lines[++nlines] = $0
    if ($1 == "Types:") stanza_types = substr($0, index($0, ":") + 1)
    if ($1 == "URIs:") stanza_uris = substr($0, index($0, ":") + 1)
    if ($1 == "Suites:") stanza_suites = substr($0, index($0, ":") + 1)
    if ($1 == "Components:") components_at = nlines
    next
}

/^[[:space:]]*deb[[:space:]]/ {
    i = 2
    if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
    if (debian_uri($i) && our_suite($(i + 1))) { print add_missing($0, i + 2); next }
}
{ print }

END { if (FILENAME ~ /\.sources$/) flush_stanza() }
