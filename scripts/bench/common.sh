# Shared by the bench scripts (sourced, not run).

# Installs GNU time (Debian package `time`) when /usr/bin/time is missing.
ensure_gnu_time() {
    [ -x /usr/bin/time ] && return
    echo "installing GNU time (Debian package \`time\`)" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq time >/dev/null
}

# The median of the numbers on standard input, one per line.
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
