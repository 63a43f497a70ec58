#!/bin/sh
# Streams an export straight into restic: the tar never touches the local disk.
# The same content gives the same bytes, so restic deduplicates unchanged parts between runs.
set -eu
kitbag export kinopio -o - --quiet | restic backup --stdin --stdin-filename kinopio.tar
