#!/bin/sh
# Builds podinit's two shipped forms from SRC (podinit/ and wheelhouse/ of
# pure-Python wheels) into OUT, with the python3 of the image it runs in:
#   OUT/podinit.pyz   zipapp with click and structlog inside (psutil, which
#                     is compiled, is left out: only PODINIT_STOP_PROCESSES
#                     needs it); bytecode precompiled for this python3, and
#                     stored uncompressed: 1.7 MB instead of 0.6, 3 ms less
#                     at every start
#   OUT/dist/         that zipapp plus this python3, its pruned standard
#                     library, the shared libraries it loads and the dynamic
#                     loader, started by OUT/dist/bin/podinit (a /bin/sh script)
set -eu
src=$1
out=$2
stage=$(mktemp -d)
mkdir -p "$out"

cp -r "$src/podinit" "$stage/podinit"
for wheel in "$src"/wheelhouse/*.whl; do
    python3 -m zipfile -e "$wheel" "$stage/"
done
rm -rf "$stage"/*.dist-info "$stage"/bin
find "$stage" -name __pycache__ -prune -exec rm -rf {} +
# Legacy .pyc beside each .py: zipimport loads those, and never writes any.
python3 -m compileall -q -b -j 0 "$stage"
python3 -m zipapp "$stage" -o "$out/podinit.pyz" -p "/usr/bin/env python3" -m "podinit.cli:main"

dist="$out/dist"
version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
stdlib=$(python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')
python=$(readlink -f "$(command -v python3)")
mkdir -p "$dist/bin" "$dist/lib" "$dist/python/bin" "$dist/python/lib"
cp "$python" "$dist/python/bin/python3"
cp -a "$stdlib" "$dist/python/lib/python$version"
cd "$dist/python/lib/python$version"
rm -rf test idlelib tkinter turtledemo turtle.py ensurepip lib2to3 pydoc_data \
    distutils site-packages dist-packages config-* __phello__ sqlite3 dbm venv \
    unittest/test lib-dynload/_tkinter* lib-dynload/_test* lib-dynload/*sqlite* \
    lib-dynload/_curses* lib-dynload/_dbm* lib-dynload/_gdbm* lib-dynload/xx* \
    lib-dynload/nis.* lib-dynload/readline.* lib-dynload/_crypt.* lib-dynload/ossaudiodev.* \
    lib-dynload/audioop.* lib-dynload/_ctypes_test.* lib-dynload/_xx* lib-dynload/_lsprof.*
find . -name __pycache__ -prune -exec rm -rf {} +
python3 -m compileall -q -j 0 . >/dev/null 2>&1 || true
cd - >/dev/null

# The libraries the interpreter and its extension modules load, and the loader.
for binary in "$python" "$dist/python/lib/python$version"/lib-dynload/*.so; do
    ldd "$binary" 2>/dev/null || true
done | awk '$1 ~ /^\// { print "LOADER", $1 } $2 == "=>" && $3 ~ /^\// { print "LIB", $3 }' \
    | sort -u > "$stage/libs.txt"
loader=""
while read -r kind path; do
    if [ "$kind" = LOADER ]; then
        loader=$path
        cp -L "$path" "$dist/lib/ld.so"
    else
        cp -L "$path" "$dist/lib/"
    fi
done < "$stage/libs.txt"
[ -n "$loader" ] || { echo "no dynamic loader found for $python" >&2; exit 1; }
cp "$out/podinit.pyz" "$dist/podinit.pyz"

cat > "$dist/bin/podinit" <<'LAUNCHER'
#!/bin/sh
# podinit, self-contained: its own loader, libraries and interpreter.
self=$(readlink -f "$0")
dist=${self%/bin/podinit}
# The archive is imported, not run: running a zipapp goes through runpy, which
# costs more at start than all of podinit's own modules. -S: no site, nothing
# to find there.
export PYTHONHOME="$dist/python"
exec "$dist/lib/ld.so" --library-path "$dist/lib" "$dist/python/bin/python3" -S -s -c \
    "import sys; sys.argv[0] = 'podinit'; sys.path.insert(0, '$dist/podinit.pyz'); from podinit.cli import main; main()" "$@"
LAUNCHER
chmod 755 "$dist/bin/podinit"
rm -rf "$stage"
echo "podinit forms: $(du -sh "$out/podinit.pyz" | cut -f1) zipapp, $(du -sh "$dist" | cut -f1) self-contained"
