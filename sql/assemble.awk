# sql/assemble.awk: builds the install and update scripts (Makefile).
#   awk -v guard=FILE -v parts="FILE ..." -f sql/assemble.awk SOURCE
# Copies SOURCE; right after its \echo line (the guard against running it
# in psql) comes the trust guard (sql/parts/00_guard.sql), and a line
# "-- @parts@" is replaced by the files of parts, in order.
function cat(file,    line) {
    while ((getline line < file) > 0)
        print line
    close(file)
}
{
    if ($0 == "-- @parts@") {
        n = split(parts, files, " ")
        for (i = 1; i <= n; i++) {
            if (i > 1)
                print ""
            cat(files[i])
        }
        next
    }
    print
    if ($0 ~ /^\\echo /) {
        print ""
        cat(guard)
    }
}
