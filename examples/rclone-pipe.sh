#!/bin/sh
# Streams an export to any rclone remote (S3, B2, Drive, …) without a local copy.
set -eu
stamp=$(date -u +%Y%m%dT%H%M%SZ)
kitbag export kinopio -o - --quiet | rclone rcat "remote:kitbag/kinopio-$stamp.tar"
