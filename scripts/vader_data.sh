#!/usr/bin/env bash
# Re-derives data/vader/ from the vaderSentiment 3.3.2 source distribution on PyPI, checking the
# SHA-256 of the sdist, of the archive inside it and of every file taken (before and after
# compression). For provenance only: thaw's build and tests never run it. Needs pip and network.
#
#   bash scripts/vader_data.sh            # rewrites data/vader/*.gz and data/vader/LICENSE.txt
#   SDIST=path/to/vaderSentiment-3.3.2.tar.gz bash scripts/vader_data.sh   # from a local copy
set -euo pipefail
cd "$(dirname "$0")/.."

SDIST_SHA=5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9
ARCHIVE=vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz
ARCHIVE_SHA=d5bb07d87474b3eb8d30b4deccbc23f19d742a6c5718fbacc65485b70b95c5fa
# SHA-256 of each ground-truth file as published (= of the decompressed data/vader/FILE.gz).
FILES="
c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350 movieReviewSnippets_GroundTruth.txt
dfbe7102e2f92579ed8b19df9a3822491880697c67adf712fb66e520cc05102f tweets_GroundTruth.txt
11a9807a0974a2506a2d3b4851eaf69b3d6d20688ce4923adda2312a4f6dd6c2 amazonReviewSnippets_GroundTruth.txt
7d8fbcce7dde5d716da53e78f4ef4be6b706e9ef1e1d51887e6d0ad4b69cc27e nytEditorialSnippets_GroundTruth.txt
"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "${SDIST:-}" ]; then
    pip download --no-deps --no-binary :all: --dest "$work" vaderSentiment==3.3.2
    SDIST=$work/vaderSentiment-3.3.2.tar.gz
fi
check() { # SHA FILE
    echo "$1  $2" | sha256sum --check --quiet - || { echo "sha256 mismatch: $2" >&2; exit 1; }
}
check "$SDIST_SHA" "$SDIST"
tar -xzf "$SDIST" -C "$work" "$ARCHIVE" vaderSentiment-3.3.2/LICENSE.txt
check "$ARCHIVE_SHA" "$work/$ARCHIVE"
tar -xzf "$work/$ARCHIVE" -C "$work"
mkdir -p data/vader
echo "$FILES" | while read -r sha name; do
    [ -n "$name" ] || continue
    check "$sha" "$work/hutto_ICWSM_2014/$name"
    gzip -n -9 -c "$work/hutto_ICWSM_2014/$name" >"data/vader/$name.gz"
    check "$sha" <(gunzip -c "data/vader/$name.gz")
    echo "data/vader/$name.gz: $(gunzip -c "data/vader/$name.gz" | awk 'END { print NR }') lines"
done
cp "$work/vaderSentiment-3.3.2/LICENSE.txt" data/vader/LICENSE.txt
echo "data/vader/ re-derived; every sha256 matches"
