#!/usr/bin/env bash
# Builds the DocC catalogs of Engine and Cluster into .build/docs/NAME.doccarchive with the
# toolchain's docc, from the symbol graphs of a debug build in .build/docs-build (building Cluster
# builds Engine, Datasets and ZeroMQ too). Any DocC warning (a broken symbol link, a missing
# article) fails the script. Not part of CI: a debug build costs about 2.5 min on 2 cores.
#
#   scripts/docs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
docc=$(command -v docc || true)
[ -n "$docc" ] || docc="$(dirname "$(readlink -f "$(command -v swift)")")/docc"
[ -x "$docc" ] || { echo "docs.sh: docc not found on PATH or beside swift ($docc)" >&2; exit 1; }
graphs="$PWD/.build/docs-build/symbol-graphs"
# Kept between runs: an incremental build rewrites the graph of a module only when it recompiles it,
# so an unchanged module's graph from the last run is still its current one.
mkdir -p "$graphs" .build/docs
swift build -c debug --build-path .build/docs-build --target Cluster \
    -Xswiftc -emit-symbol-graph -Xswiftc -emit-symbol-graph-dir -Xswiftc "$graphs"
for module in Engine Cluster; do
    only="$graphs/only-$module"
    rm -rf "$only" && mkdir -p "$only"
    cp "$graphs/$module".symbols.json "$only"/
    cp "$graphs/$module"@*.symbols.json "$only"/ 2>/dev/null || true
    "$docc" convert "Sources/$module/$module.docc" --fallback-display-name "$module" \
        --fallback-bundle-identifier "actortrainer.$module" --additional-symbol-graph-dir "$only" \
        --output-path ".build/docs/$module.doccarchive" --warnings-as-errors
    echo "docs.sh: .build/docs/$module.doccarchive"
done
